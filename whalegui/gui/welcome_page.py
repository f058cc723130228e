"""The page an empty gallery shows: what whalegui does and three ways to start."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from whalegui.gui.resources import icon

WELCOME_TEXT = (
    "whalegui finds the whale in a fluke photo among the whales in your gallery.<br>"
    "Start with known whales:<ul>"
    "<li><b>Import a catalogue</b>: a CSV with columns <i>Image,Id</i> and its photo folder, "
    "or a folder with one sub-folder of photos per whale;</li>"
    "<li>or <b>open the demo</b>: synthetic whales and query photos to try everything in a minute;</li>"
    "<li>or drop fluke photos here and enroll each as a <b>new whale</b> (N).</li></ul>"
)


class WelcomePage(QWidget):
    """Says how to start; its buttons ask the window to import a catalogue or open the demo."""

    import_csv_requested = Signal()
    import_folders_requested = Signal()
    demo_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcome")
        title = QLabel("Your gallery is empty", self)
        title.setObjectName("welcomeTitle")
        text = QLabel(WELCOME_TEXT, self)
        text.setWordWrap(True)
        text.setTextFormat(Qt.TextFormat.RichText)
        buttons = QHBoxLayout()
        for label, name, signal in (
            ("Import a catalogue (CSV)…", "import", self.import_csv_requested),
            ("Import folders (one per whale)…", "open-folder", self.import_folders_requested),
            ("Open the demo", "demo", self.demo_requested),
        ):
            button = QPushButton(icon(name), label, self)
            button.setObjectName("welcomeButton")
            button.clicked.connect(signal)
            buttons.addWidget(button)
        buttons.addStretch(1)
        box = QVBoxLayout(self)
        box.setContentsMargins(24, 24, 24, 24)
        box.addWidget(title)
        box.addWidget(text)
        box.addLayout(buttons)
        box.addStretch(1)
