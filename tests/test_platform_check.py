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
            "check._can_connect_x11 = lambda d: True; "
            "from segviewer.cli import main; sys.exit(main([]))")
    env = {"PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "xcb", "DISPLAY": ":99", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "sudo apt-get install" in lines[0] and "libxcb-cursor0" in lines[0]


def test_no_display_is_named_with_what_to_use_instead():
    from segviewer.gui.platform_check import display_problem

    message = display_problem({}, "linux")
    assert "no display" in message and "segviewer predict" in message and "QT_QPA_PLATFORM=offscreen" in message
    assert "does not answer" in display_problem({"DISPLAY": ":42"}, "linux", connect=lambda _d: False)
    assert display_problem({"DISPLAY": ":0"}, "linux", connect=lambda _d: True) is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}, "linux") is None


def test_viewer_without_a_display_exits_3_with_one_line(tmp_path):
    """The real entry point and the real X connection attempt, on a display nobody serves."""
    for env in ({"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
                {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DISPLAY": ":87"}):
        result = subprocess.run([sys.executable, "-m", "segviewer"], cwd=PROJECT_ROOT, env=env,
                                capture_output=True, text=True, timeout=60)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 3 and len(lines) == 1, result.stderr
        assert "segviewer predict" in lines[0]
