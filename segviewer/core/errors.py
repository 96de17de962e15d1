"""The project's own exceptions. Every message names the file and says what is wrong,
so the GUI and the CLIs can show it to the user as it is."""

from __future__ import annotations

from pathlib import Path


def first_line(error: BaseException, limit: int) -> str:
    """An exception in one line for a message: its OS reason when it has one (without
    the errno and file name ``str()`` adds), else the first line of its text, else its
    type."""
    text = (getattr(error, "strerror", None) or str(error)).strip()
    if not text:
        return type(error).__name__
    line = text.splitlines()[0]
    if len(line) <= limit:
        return line
    # Cut at a word, and say that something was cut, never mid-word without a mark.
    cut = line[: limit - 1]
    return (cut[: cut.rfind(" ")] if " " in cut else cut).rstrip(" ,;:") + "…"


def special_file_kind(path: Path) -> str | None:
    """"a FIFO", "a socket", "a device" for a path that is none of a regular file, a
    folder or nothing; opening such a thing can block forever (a FIFO with no writer)."""
    import stat

    try:
        mode = Path(path).stat().st_mode
    except OSError:
        return None
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return None


def refuse_special_file(path: Path, error: type[SegviewerError]) -> None:
    kind = special_file_kind(path)
    if kind is not None:
        raise error(path, f"is {kind}, not a regular file; refused before opening (it could block forever)")


class SegviewerError(Exception):
    """Base class: a problem the user can act on (never a bug)."""

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = Path(path) if path is not None else None
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if path is not None else problem)


class ImageLoadError(SegviewerError):
    """An image could not be opened: not found, not an image, truncated, too large..."""


class MaskIOError(SegviewerError):
    """A mask could not be written or read."""


class OutputExistsError(MaskIOError):
    """The file to write is already there and may not be replaced."""


class DiskFullError(MaskIOError):
    """No space left (or the quota is spent): every later write would fail too, so a run
    stops at the first one instead of reporting each file."""


class ModelLoadError(SegviewerError):
    """A model file is missing, corrupt or not a segviewer-compatible network."""


class InferenceError(SegviewerError):
    """The network could not compute an image (e.g. an int8 twin's division by zero)."""
