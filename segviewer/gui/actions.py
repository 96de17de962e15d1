"""The viewer's actions (menu items, shortcuts, toolbar buttons), their menus, and the
rules that enable them; one place to look for "what can the user do now"."""

from __future__ import annotations

from dataclasses import dataclass, fields

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar

from segviewer.core.overlay import OverlayMode, OverlayRenderer

MODE_LABELS = {OverlayMode.FILL: "Fill", OverlayMode.CONTOUR: "Contours",
               OverlayMode.MASK_ONLY: "Mask only", OverlayMode.IMAGE_ONLY: "Image only"}


@dataclass(frozen=True)
class ActionState:
    """What the enable rules look at."""

    has_image: bool
    has_prediction: bool
    has_model: bool
    files: int
    index: int
    has_video: bool = False


@dataclass
class Actions:
    open: QAction
    open_folder: QAction
    open_samples: QAction
    evaluate_folder: QAction
    open_results: QAction
    model_b: QAction
    remove_model_b: QAction
    open_model: QAction
    open_truth: QAction
    save: QAction
    save_all: QAction
    quit: QAction
    next: QAction
    previous: QAction
    zoom_in: QAction
    zoom_out: QAction
    fit: QAction
    actual: QAction
    show_all: QAction
    hide_all: QAction
    invert: QAction
    solo: QAction
    about: QAction
    play_sequence: QAction
    play_pause: QAction
    frame_back: QAction
    frame_forward: QAction
    modes: QActionGroup

    def update(self, state: ActionState) -> None:
        """The enable rules, in one place."""
        self.save.setEnabled(state.has_prediction)
        self.open_truth.setEnabled(state.has_image)
        self.save_all.setEnabled(state.files > 1 and state.has_model)
        self.evaluate_folder.setEnabled(state.has_model)
        self.next.setEnabled(state.index + 1 < state.files)
        self.previous.setEnabled(state.index > 0)
        for action in (self.play_pause, self.frame_back, self.frame_forward):
            action.setEnabled(state.has_video)

    def all(self) -> list[QAction]:
        return [getattr(self, f.name) for f in fields(self) if isinstance(getattr(self, f.name), QAction)]


def _action(parent, text: str, slot, shortcut=None, tip: str = "") -> QAction:
    action = QAction(text, parent)
    if shortcut is not None:
        shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
    action.setStatusTip(tip or text.replace("&", "").replace("…", ""))
    action.triggered.connect(slot)
    return action


def _disabled(action: QAction) -> QAction:
    """An action that starts disabled (enabled by what it depends on, e.g. a model B)."""
    action.setEnabled(False)
    return action


def create_actions(window, renderer: OverlayRenderer) -> Actions:
    """Every action of ``window`` (a :class:`~segviewer.gui.main_window.MainWindow`)."""
    keys = QKeySequence.StandardKey
    modes = QActionGroup(window)
    for number, mode in enumerate(OverlayMode, start=1):
        action = _action(window, MODE_LABELS[mode], lambda _=False, m=mode: renderer.set_mode(m),
                         f"Ctrl+{number + 1}")
        action.setCheckable(True)
        action.setData(mode)
        modes.addAction(action)

    def reflect_mode() -> None:
        for action in modes.actions():
            action.setChecked(action.data() is renderer.mode)

    renderer.subscribe(reflect_mode)
    reflect_mode()
    view, saving = window.view, window.saving
    return Actions(
        open=_action(window, "&Open Image…", window.opener.open_image_dialog, keys.Open),
        open_folder=_action(window, "Open &Folder…", window.opener.open_folder_dialog, "Ctrl+Shift+O"),
        open_samples=_action(window, "Open &Sample Images", window.opener.open_samples, None,
                             "Open the three KITTI road frames that ship with segviewer (with ground truth)"),
        evaluate_folder=_action(window, "&Evaluate Folder…", window.evaluation.evaluate_folder_dialog, "Ctrl+E",
                                "Segment every image of a folder with ground truth and score the model on it"),
        open_results=_action(window, "Open &Results…", window.evaluation.open_results_dialog, None,
                             "Show a saved evaluation (the JSON Save Results or segviewer evaluate writes) "
                             "without running the network"),
        model_b=_action(window, "Compare With Model &B…", window.evaluation.choose_model_b_dialog, "Ctrl+Shift+B",
                        "Evaluate Folder then scores a second model too and shows B - A"),
        remove_model_b=_disabled(_action(window, "Remove Model B", window.evaluation.remove_model_b, None,
                                         "Stop comparing: the loaded model alone again")),
        open_model=_action(window, "Open &Model…", window.opener.open_model_dialog, "Ctrl+M"),
        open_truth=_action(window, "Load &Ground Truth…", window.opener.open_truth_dialog, "Ctrl+G",
                           "Load a label-ID (KITTI/Cityscapes) or CamVid mask for this image"),
        save=_action(window, "&Save Masks…", saving.save_dialog, keys.Save),
        save_all=_action(window, "Save &All in Folder…", saving.save_all_dialog, "Ctrl+Shift+S"),
        quit=_action(window, "&Quit", window.close, keys.Quit),
        next=_action(window, "&Next Image", window.next_image, ["Right", "PgDown"]),
        previous=_action(window, "&Previous Image", window.previous_image, ["Left", "PgUp"]),
        zoom_in=_action(window, "Zoom &In", view.zoom_in, [keys.ZoomIn, "Ctrl+="]),
        zoom_out=_action(window, "Zoom &Out", view.zoom_out, keys.ZoomOut),
        fit=_action(window, "&Fit to Window", view.fit_to_window, "Ctrl+0"),
        actual=_action(window, "&Actual Size (100 %)", view.actual_size, "Ctrl+1"),
        show_all=_action(window, "Show All Classes", renderer.show_all, "Ctrl+Shift+A"),
        hide_all=_action(window, "Hide All Classes", renderer.hide_all, "Ctrl+Shift+N"),
        invert=_action(window, "Invert Class Visibility", renderer.invert, "Ctrl+I"),
        solo=_action(window, "Show Only Selected Class", window.solo_selected, "Ctrl+Shift+L"),
        about=_action(window, "&About segviewer", window.show_about),
        play_sequence=_action(window, "Play Folder as Se&quence…", window.opener.open_sequence_dialog, "Ctrl+Shift+P",
                              "Play a folder of numbered frames like a video"),
        play_pause=_action(window, "&Play / Pause", window.video.toggle_play, "Space"),
        frame_back=_action(window, "Previous &Frame", lambda: window.video.step(-1), ","),
        frame_forward=_action(window, "Next F&rame", lambda: window.video.step(1), "."),
        modes=modes,
    )


def build_menus(window: QMainWindow, actions: Actions) -> QMenu:
    """The menu bar; returns the Open Recent menu, which the window fills."""
    file_menu = window.menuBar().addMenu("&File")
    file_menu.addActions([actions.open, actions.open_folder, actions.open_samples, actions.play_sequence])
    recent_menu = file_menu.addMenu("Open &Recent")
    file_menu.addActions([actions.open_model, actions.open_truth, actions.evaluate_folder, actions.open_results,
                          actions.model_b, actions.remove_model_b])
    file_menu.addSeparator()
    file_menu.addActions([actions.save, actions.save_all])
    file_menu.addSeparator()
    file_menu.addAction(actions.quit)
    view_menu = window.menuBar().addMenu("&View")
    view_menu.addActions([actions.zoom_in, actions.zoom_out, actions.fit, actions.actual])
    view_menu.addSeparator()
    view_menu.addActions(actions.modes.actions())
    view_menu.addSeparator()
    view_menu.addActions([actions.previous, actions.next])
    view_menu.addSeparator()
    view_menu.addActions([actions.play_pause, actions.frame_back, actions.frame_forward])
    class_menu = window.menuBar().addMenu("&Classes")
    class_menu.addActions([actions.show_all, actions.hide_all, actions.invert, actions.solo])
    window.menuBar().addMenu("&Help").addAction(actions.about)
    return recent_menu


def add_main_toolbar(window: QMainWindow, actions: Actions) -> QToolBar:
    """The toolbar's actions (text only: the names say more than icons would); the overlay
    controls are added after them."""
    toolbar = QToolBar("Main", window)
    toolbar.setObjectName("main_toolbar")
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    for action in (actions.open, actions.open_folder, actions.save, None, actions.previous, actions.next, None,
                   actions.fit, actions.actual, None):
        toolbar.addSeparator() if action is None else toolbar.addAction(action)
    window.addToolBar(toolbar)
    return toolbar
