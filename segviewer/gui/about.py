"""Help > About: the version and the loaded model's whole card (data licences included),
in a scrollable dialog."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from segviewer import __version__
from segviewer.core.card_render import card_html


def about_dialog(parent: QWidget, model_path: Path, card: dict) -> QDialog:
    text = (f"<b>segviewer {__version__}</b><br>"
            "See what a semantic-segmentation network sees in road images.<br>"
            f"Model: {html.escape(str(model_path))}"
            + (card_html(card) or "<br>(this model has no model card)"))
    dialog = QDialog(parent)
    dialog.setWindowTitle("About segviewer")
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    browser = QTextBrowser(dialog)
    browser.setHtml(text)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addWidget(browser)
    layout.addWidget(buttons)
    dialog.resize(760, 640)
    return dialog
