"""What the viewer remembers between runs (QSettings), under named keys: window layout,
overlay settings, recent files, the last folder, and the save dialog's choices."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from segviewer.core.mask_io import MaskFormat
from segviewer.core.overlay import OverlayRenderer

MAX_RECENT = 10
DEFAULT_SAVE_FORMATS = [MaskFormat.LABEL_IDS, MaskFormat.COLOR]


class Keys:
    GEOMETRY = "window/geometry"
    STATE = "window/state"
    OPACITY = "overlay/opacity"
    VISIBLE = "overlay/visible"
    RECENT_FILES = "recent/files"
    LAST_FOLDER = "recent/folder"
    SAVE_FORMATS = "save/formats"
    SAVE_FOLDER = "save/folder"
    WELCOMED = "start/samples_offered"


class ViewerSettings:
    def __init__(self, settings: QSettings | None = None) -> None:
        self._settings = settings or QSettings()

    # -- window ------------------------------------------------------------------------
    def window_geometry(self) -> QByteArray | None:
        return self._settings.value(Keys.GEOMETRY)

    def window_state(self) -> QByteArray | None:
        return self._settings.value(Keys.STATE)

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self._settings.setValue(Keys.GEOMETRY, geometry)
        self._settings.setValue(Keys.STATE, state)

    def restore_window(self, window) -> bool:
        """Window geometry and dock layout as last time; False when there is none."""
        geometry, state = self.window_geometry(), self.window_state()
        if geometry is not None:
            window.restoreGeometry(geometry)
        if state is not None:
            window.restoreState(state)
        return geometry is not None

    def restore_overlay(self, renderer: OverlayRenderer) -> None:
        renderer.set_opacity(self.opacity_percent() / 100.0)
        visible = self.visible_ids()
        if visible is not None:
            renderer.set_visible_ids(visible)

    def save_window_and_overlay(self, window, renderer: OverlayRenderer) -> None:
        self.save_window(window.saveGeometry(), window.saveState())
        self.save_overlay(round(renderer.opacity * 100), renderer.visible_ids())
        self.sync()

    # -- overlay -----------------------------------------------------------------------
    def opacity_percent(self, default: int = 50) -> int:
        return self._settings.value(Keys.OPACITY, default, type=int)

    def visible_ids(self) -> set[int] | None:
        """The classes shown last time, or None when never saved (or unreadable)."""
        value = self._settings.value(Keys.VISIBLE, None)
        if not value:
            return None
        try:
            return {int(v) for v in json.loads(value)}
        except (ValueError, TypeError):
            return None

    def save_overlay(self, opacity_percent: int, visible: set[int]) -> None:
        self._settings.setValue(Keys.OPACITY, opacity_percent)
        self._settings.setValue(Keys.VISIBLE, json.dumps(sorted(visible)))

    def first_run(self) -> bool:
        """True the first time it is asked on this account (then remembered)."""
        if self._settings.value(Keys.WELCOMED, False, type=bool):
            return False
        self._settings.setValue(Keys.WELCOMED, True)
        return True

    # -- files ---------------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        value = self._settings.value(Keys.RECENT_FILES, [])
        return [value] if isinstance(value, str) else list(value or [])

    def add_recent(self, path: Path) -> None:
        entries = [str(path)] + [p for p in self.recent_files() if p != str(path)]
        self._settings.setValue(Keys.RECENT_FILES, entries[:MAX_RECENT])

    def remove_recent(self, path: Path) -> bool:
        """Forget ``path`` (it failed to open); True when it was listed."""
        entries = self.recent_files()
        if str(path) not in entries:
            return False
        self._settings.setValue(Keys.RECENT_FILES, [p for p in entries if p != str(path)])
        return True

    def last_folder(self) -> str:
        return self._settings.value(Keys.LAST_FOLDER, str(Path.home()))

    def set_last_folder(self, folder: Path) -> None:
        self._settings.setValue(Keys.LAST_FOLDER, str(folder))

    # -- saving --------------------------------------------------------------------------
    def save_formats(self) -> list[MaskFormat]:
        try:
            return MaskFormat.parse_list(self._settings.value(Keys.SAVE_FORMATS, "labelIds,color"))
        except ValueError:
            return list(DEFAULT_SAVE_FORMATS)

    def save_folder(self) -> Path | None:
        folder = self._settings.value(Keys.SAVE_FOLDER, "") or None
        return Path(folder) if folder else None

    def remember_save(self, formats: list[MaskFormat], folder: Path | None) -> None:
        self._settings.setValue(Keys.SAVE_FORMATS, ",".join(f.value for f in formats))
        self._settings.setValue(Keys.SAVE_FOLDER, str(folder) if folder else "")

    def sync(self) -> None:
        self._settings.sync()
