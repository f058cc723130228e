"""The main window's Training menu: misranked triplets, the review pairs' export, adapting the model to the
gallery and applying an adapted model, with their progress in a panel of the window (Cancel included).

Built by the main window from itself and the controller (``TuningMenu(window, controller)``); it talks only
to ``controller.tuning``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QBoxLayout, QFileDialog, QMessageBox

from whalegui.gui.adapt_runner import AdaptOutcome
from whalegui.gui.progress_panel import ProgressPanel
from whalegui.gui.triplets_view import TripletsDialog
from whalegui.paths import adapted_models_dir

if TYPE_CHECKING:
    from whalegui.gui.controller import Controller
    from whalegui.gui.main_window import MainWindow

log = logging.getLogger(__name__)

MODEL_FILTER = "ONNX models (*.onnx);;All files (*)"


class TuningMenu(QObject):
    """The Training menu's actions, the panel that shows their progress and the dialogs they open."""

    def __init__(self, window: MainWindow, controller: Controller) -> None:
        super().__init__(window)
        self._window = window
        self._controller = controller
        self.tuning = controller.tuning
        self.triplets_dialog: TripletsDialog | None = None
        self.question: QMessageBox | None = None  # "apply the adapted model?"
        self.panel = ProgressPanel(window)
        self.panel.cancelling_text = "cancelling…"
        self.panel.canceled.connect(self.tuning.cancel)
        central = window.centralWidget()
        layout = central.layout() if central is not None else None
        if isinstance(layout, QBoxLayout):
            layout.insertWidget(1, self.panel)  # under the import's panel, above the review
        self.triplets_action = self._action("&Misranked triplets…", self.show_triplets,
                                            "Queries whose whale was ranked below a wrong one")
        self.export_pairs_action = self._action("&Export review pairs CSV…", self.export_pairs,
                                                "Write every review decision as labelled pairs")
        self.adapt_action = self._action("&Adapt the model to this gallery…", self.adapt,
                                         "Train the model's top on this gallery's whales (needs the "
                                         "training tools)")
        self.apply_action = self._action("A&pply an adapted model…", self.choose_model_to_apply,
                                         "Re-embed the gallery with another model and use it from now on")
        menu = window.menuBar()
        help_menu = menu.actions()[-1] if menu.actions() else None
        self.menu = menu.addMenu("&Training")
        if help_menu is not None:  # keep Help last
            menu.insertMenu(help_menu, self.menu)
        for a in (self.triplets_action, self.export_pairs_action, None, self.adapt_action, self.apply_action):
            self.menu.addSeparator() if a is None else self.menu.addAction(a)
        self.tuning.work_started.connect(self.panel.start)
        self.tuning.work_progressed.connect(self.panel.set_line)
        self.tuning.work_finished.connect(self.panel.finish)
        self.tuning.adapt_finished.connect(self._on_adapt_finished)

    def _action(self, text: str, slot: object, tip: str) -> QAction:
        action = QAction(text, self._window)
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    # ------------------------------------------------------------------ triplets and pairs

    def show_triplets(self) -> TripletsDialog:
        """Open (or raise) the misranked-triplets window, read afresh."""
        if self.triplets_dialog is None:
            self.triplets_dialog = TripletsDialog(self.tuning, self._window)
        self.triplets_dialog.show()
        self.triplets_dialog.raise_()
        self.triplets_dialog.refresh()
        return self.triplets_dialog

    def export_pairs(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self._window, "Export review pairs",
                                              str(Path.home() / "review_pairs.csv"), "CSV files (*.csv)")
        if path:
            self.tuning.export_pairs(path)

    # ------------------------------------------------------------------ adapting and applying

    def adapt(self) -> None:
        """Ask where to write the adapted model, then adapt (or say why it cannot)."""
        why = self.tuning.can_adapt()
        info = self._controller.info
        if why or info is None:
            self._window.show_message_box(QMessageBox.Icon.Information, "Adapt the model",
                                          why or "The gallery is not open yet.")
            return
        folder = adapted_models_dir()
        folder.mkdir(parents=True, exist_ok=True)
        suggested = folder / f"adapted-{info.folder.name}-{time.strftime('%Y%m%d-%H%M')}.onnx"
        path, _ = QFileDialog.getSaveFileName(self._window, "Write the adapted model", str(suggested),
                                              MODEL_FILTER)
        if path:
            self.start_adapt(Path(path))

    def start_adapt(self, out: Path, command: list[str] | None = None) -> bool:
        """Adapt the loaded model to the open gallery, writing ``out``."""
        info = self._controller.info
        if info is None:
            return False
        out = out if out.suffix == ".onnx" else out.with_suffix(".onnx")
        return self.tuning.adapt(info.folder, out, base=self._controller.model_path, command=command)

    def _on_adapt_finished(self, outcome: AdaptOutcome) -> None:
        if outcome.cancelled:
            return
        if not outcome.ok:
            self._window.show_message_box(QMessageBox.Icon.Warning, "The model was not adapted",
                                          f"The model was not adapted: {outcome.message}")
            return
        summary = f"{outcome.message}\n\n" if outcome.message else ""
        box = QMessageBox(QMessageBox.Icon.Question, "Model adapted",
                          f"{summary}Apply the adapted model now? Every photo of the gallery is embedded "
                          "again with it (the gallery is unchanged if you cancel).",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self._window)
        out = outcome.out
        box.finished.connect(lambda result: self._on_question_answered(result, out))
        box.open()
        self.question = box

    def _on_question_answered(self, result: int, out: Path | None) -> None:
        self.question = None
        if out is not None and result == QMessageBox.StandardButton.Yes:
            self.tuning.apply(out)

    def choose_model_to_apply(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._window, "Apply a model", str(adapted_models_dir()),
                                              MODEL_FILTER)
        if path:
            self.tuning.apply(Path(path))
