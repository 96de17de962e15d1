"""Find the system libraries Qt's X11 (xcb) platform plugin needs before Qt tries to load
it: without them Qt aborts the process (signal 6) with a message few users can act on.

Imports no Qt, so it can run before the QApplication exists.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping

# Shared library -> the Debian / Ubuntu package that provides it (Qt 6.5+ xcb plugin).
XCB_LIBRARIES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
}


def uses_xcb(environ: Mapping[str, str], platform: str = sys.platform) -> bool:
    """Whether Qt will pick its xcb plugin: Linux, no other platform asked for, and not a
    Wayland session (where Qt 6 prefers its Wayland plugin)."""
    if not platform.startswith("linux"):
        return False
    requested = environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if requested:
        return requested == "xcb"
    return not (environ.get("XDG_SESSION_TYPE") == "wayland" and environ.get("WAYLAND_DISPLAY"))


def _loadable(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_xcb_packages(environ: Mapping[str, str] | None = None,
                         loadable: Callable[[str], bool] | None = None,
                         platform: str = sys.platform) -> list[str]:
    """The Debian packages to install before the xcb plugin can load ([] when fine or
    when xcb is not going to be used)."""
    if not uses_xcb(os.environ if environ is None else environ, platform):
        return []
    loadable = loadable or _loadable
    return sorted({package for soname, package in XCB_LIBRARIES.items() if not loadable(soname)})


def missing_library_message(packages: list[str]) -> str:
    return ("segviewer: the Qt X11 platform needs system libraries that are not installed; "
            f"install them with: sudo apt-get install {' '.join(packages)}")


def _can_connect_x11(display: str) -> bool:
    """Whether an X server answers at ``display`` (libxcb's own connect, as Qt does)."""
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return True  # cannot tell; the library check speaks for this case
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)
    try:
        return connection is not None and xcb.xcb_connection_has_error(connection) == 0
    finally:
        if connection:
            xcb.xcb_disconnect(connection)


def display_problem(environ: Mapping[str, str] | None = None, platform: str = sys.platform,
                    connect: Callable[[str], bool] | None = None) -> str | None:
    """Why the viewer cannot open a window here (no display, or one that does not answer),
    or None. Qt would abort with advice about libraries instead."""
    environ = os.environ if environ is None else environ
    if not uses_xcb(environ, platform):
        return None
    display = environ.get("DISPLAY", "")
    if not display and not environ.get("WAYLAND_DISPLAY"):
        reason = "no display (neither DISPLAY nor WAYLAND_DISPLAY is set)"
    elif display and not (connect or _can_connect_x11)(display):
        reason = f"the X display {display!r} does not answer"
    else:
        return None
    return (f"segviewer: {reason}; the viewer needs a desktop. Without one, use `segviewer predict` "
            "for headless work, or QT_QPA_PLATFORM=offscreen with --screenshot for a picture of the window.")
