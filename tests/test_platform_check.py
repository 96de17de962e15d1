"""A desktop without Qt's X11 libraries gets one actionable line, not a Qt abort."""

from __future__ import annotations

import subprocess
import sys

from segviewer.gui.platform_check import (
    missing_library_message,
    missing_xcb_packages,
    uses_xcb,
)
from tests.conftest import PROJECT_ROOT


def test_xcb_is_only_checked_when_qt_will_use_it():
    assert uses_xcb({}, "linux")
    assert uses_xcb({"QT_QPA_PLATFORM": "xcb"}, "linux")
    assert not uses_xcb({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert not uses_xcb({"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert not uses_xcb({}, "darwin") and not uses_xcb({}, "win32")


def test_missing_libraries_name_their_packages():
    absent = {"libxcb-cursor.so.0", "libxcb-icccm.so.4"}
    packages = missing_xcb_packages({}, loadable=lambda soname: soname not in absent, platform="linux")
    assert packages == ["libxcb-cursor0", "libxcb-icccm4"]
    assert "apt-get install libxcb-cursor0 libxcb-icccm4" in missing_library_message(packages)
    assert missing_xcb_packages({"QT_QPA_PLATFORM": "offscreen"}, loadable=lambda _s: False,
                                platform="linux") == []


def test_viewer_exits_with_one_line_instead_of_aborting(tmp_path):
    """The real entry point, with a library loader that finds nothing."""
    code = ("import sys, segviewer.gui.platform_check as check; check._loadable = lambda s: False; "
            "from segviewer.cli import main; sys.exit(main([]))")
    env = {"PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "xcb", "DISPLAY": ":99", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "sudo apt-get install" in lines[0] and "libxcb-cursor0" in lines[0]
