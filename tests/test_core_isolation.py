import subprocess
import sys


def test_core_imports_without_qt_or_tensorflow():
    code = (
        "import sys\n"
        "import segviewer.core.classes, segviewer.core.image_io, segviewer.core.mask_io\n"
        "import segviewer.core.overlay, segviewer.core.metrics, segviewer.core.inference\n"
        "import segviewer.core.datasets, segviewer.core.atomic\n"
        "bad = [m for m in ('PySide6', 'tensorflow', 'keras') if m in sys.modules]\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
