"""A page with a title and a text: what the review tab says while loading, or why nothing can be shown."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


class MessagePage(QWidget):
    """``show_message(title, text)``; the text can be selected (and copied into a bug report)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcome")  # the welcome page's look
        self.title = QLabel("", self)
        self.title.setObjectName("welcomeTitle")
        self.text = QLabel("", self)
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box = QVBoxLayout(self)
        box.setContentsMargins(24, 24, 24, 24)
        box.addWidget(self.title)
        box.addWidget(self.text)
        box.addStretch(1)

    def show_message(self, title: str, text: str) -> None:
        """Show ``title`` and ``text``."""
        self.title.setText(title)
        self.text.setText(text)
