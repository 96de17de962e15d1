"""Find image files: in a folder, below it, or by a glob pattern (``**`` included).

Symbolic links to folders are never descended into (the same rule for ``--recursive``
and for ``**`` patterns), so a link loop cannot make a search run forever; a symbolic link
whose target is missing is reported, not skipped in silence.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from segviewer.core.datasets import is_truth_file
from segviewer.core.image_io import is_image_file
from segviewer.core.video import is_video_file


@dataclass
class SearchResult:
    files: list[Path] = field(default_factory=list)
    broken_links: list[Path] = field(default_factory=list)
    # Label files a dataset layout marks as ground truth (KITTI semantic/, CamVid
    # trainannot/, Cityscapes gtFine/...): found, never inputs.
    truth_files: int = 0

    def describe_skipped(self) -> str:
        """One line for the ground-truth files left out, or ""."""
        return (f"skipping {self.truth_files} ground-truth file(s) in dataset label folders "
                "(semantic/, *annot/, gtFine/, labels/): they are labels, not photos") if self.truth_files else ""


def list_images(folder: Path) -> list[Path]:
    """The image files directly in ``folder``, sorted by name (case-insensitive)."""
    return sorted((p for p in Path(folder).iterdir() if p.is_file() and is_image_file(p)),
                  key=lambda p: p.name.lower())


def _walk(root: Path):
    """(folder, file names) for ``root`` and every real folder below it (links to folders
    are listed as entries but not descended)."""
    for folder, _dirs, files in os.walk(root, followlinks=False):
        yield Path(folder), files + [d for d in _dirs if os.path.islink(os.path.join(folder, d))]


def _classify(path: Path, result: SearchResult, videos: bool = False,
              truth_folders: dict[Path, bool] | None = None) -> None:
    if path.is_symlink() and not path.exists():
        result.broken_links.append(path)
    elif path.is_file() and (is_image_file(path) or (videos and is_video_file(path))):
        if truth_folders is not None and is_truth_file(path, truth_folders):
            result.truth_files += 1
        else:
            result.files.append(path)


def find_images(folder: Path, recursive: bool = False) -> SearchResult:
    """Images in ``folder`` (and below it with ``recursive``), sorted by path; files in a
    dataset's ground-truth folders are counted in ``truth_files``, not listed."""
    result = SearchResult()
    folder = Path(folder)
    truth_folders: dict[Path, bool] = {}
    if recursive:
        for parent, names in _walk(folder):
            for name in names:
                _classify(parent / name, result, truth_folders=truth_folders)
    else:
        for entry in folder.iterdir():
            _classify(entry, result, truth_folders=truth_folders)
    result.files.sort()
    result.broken_links.sort()
    return result


def _segment_regex(segment: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(segment))


def _matches(parts: list[str], segments: list[str]) -> bool:
    """Whether path components ``parts`` match pattern ``segments`` (``**`` = any number
    of folders, including none)."""
    if not segments:
        return not parts
    head, rest = segments[0], segments[1:]
    if head == "**":
        return any(_matches(parts[index:], rest) for index in range(len(parts) + 1))
    return bool(parts) and bool(_segment_regex(head).match(parts[0])) and _matches(parts[1:], rest)


def expand_pattern(pattern: str, videos: bool = False) -> SearchResult:
    """Image files (and with ``videos`` video files) matching a glob ``pattern``; ``**``
    spans folders without following links to folders. Hidden files match only patterns
    that name them (as in the shell)."""
    pattern = os.path.expanduser(pattern)
    segments = Path(pattern).parts
    fixed = 0
    while fixed < len(segments) - 1 and not glob.has_magic(segments[fixed]):
        fixed += 1
    root = Path(*segments[:fixed]) if fixed else Path(".")
    wanted = list(segments[fixed:])
    result = SearchResult()
    if not root.is_dir():
        return result
    deep = "**" in wanted
    depth = len(wanted)
    truth_folders: dict[Path, bool] = {}
    for parent, names in _walk(root):
        relative = parent.relative_to(root).parts
        if not deep and len(relative) >= depth:
            continue
        for name in names:
            parts = [*relative, name]
            if name.startswith(".") and not any(s.startswith(".") for s in wanted):
                continue
            if _matches(parts, wanted):
                _classify(parent / name, result, videos, truth_folders)
    result.files.sort()
    result.broken_links.sort()
    return result
