"""``segviewer predict``'s inputs: files, folders and glob patterns expanded into jobs,
each with the folder its outputs go to; its own outputs and clashing names left out."""

from __future__ import annotations

import glob
import sys
from dataclasses import dataclass
from pathlib import Path

from segviewer.core.export import plan_outputs
from segviewer.core.file_search import expand_pattern, find_images
from segviewer.core.mask_io import MaskFormat


@dataclass(frozen=True)
class Job:
    source: Path
    folder: Path  # where its outputs go


def collect_jobs(inputs: list[str], out: Path, recursive: bool) -> tuple[list[Job], list[str]]:
    """Expand files, folders and globs; folder structure is mirrored under ``out``.

    Files inside ``out`` that are segviewer outputs (``*_labelIds.png`` and the other
    format suffixes) are never inputs, so ``predict d --out d`` does not segment its own
    masks on the next run.
    """
    jobs: list[Job] = []
    problems: list[str] = []
    own_outputs = 0
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            search = find_images(path, recursive)
            jobs += [Job(p, out / p.parent.relative_to(path)) for p in search.files]
            if search.truth_files:
                print(f"{path}: {search.describe_skipped()}", file=sys.stderr)
            if not search.files and not search.broken_links:
                problems.append(f"{path}: no image files in this folder")
        elif path.exists() or path.is_symlink():
            if path.is_symlink() and not path.exists():
                problems.append(f"{path}: broken symbolic link (its target does not exist)")
                continue
            jobs.append(Job(path, out))  # named explicitly: tried whatever its suffix
            continue
        elif glob.has_magic(text):
            search = expand_pattern(text, videos=True)
            jobs += [Job(p, out) for p in search.files]
            if search.truth_files:
                print(f"{text}: {search.describe_skipped()}", file=sys.stderr)
            if not search.files and not search.broken_links:
                problems.append(f"{text}: no files match")
        else:
            problems.append(f"{path}: file not found")
            continue
        problems += [f"{link}: broken symbolic link (its target does not exist)" for link in search.broken_links]
    kept = [job for job in jobs if not is_own_output(job.source, out)]
    own_outputs = len(jobs) - len(kept)
    if own_outputs:
        print(f"skipping {own_outputs} file(s) in {out} that are segviewer outputs", file=sys.stderr)
    return kept, problems


def is_own_output(path: Path, out: Path) -> bool:
    """A mask this command writes (by its name), lying inside the output folder."""
    if not any(path.name.endswith(f"_{fmt.value}.png") for fmt in MaskFormat):
        return False
    try:
        path.resolve().relative_to(Path(out).resolve())
    except ValueError:
        return False
    return True


def deduplicate(jobs: list[Job], formats: list[MaskFormat]) -> tuple[list[Job], list[str]]:
    """Two inputs that would write the same output file: the second is refused."""
    owners: dict[Path, Path] = {}
    kept, problems = [], []
    for job in jobs:
        key = plan_outputs(job.source, job.folder, formats[:1])[0][1].resolve()
        if key in owners:
            if owners[key] != job.source.resolve():
                problems.append(f"{job.source}: output name clashes with {owners[key]}; skipped")
            continue
        owners[key] = job.source.resolve()
        kept.append(job)
    return kept, problems


def deduplicate_videos(videos: list[Job]) -> tuple[list[Job], list[str]]:
    """Videos name their outputs by stem (``drive_000012_labelIds.png``): two videos with
    one stem into one folder would mix their frames. The second is refused, before any work."""
    owners: dict[Path, Path] = {}
    kept, problems = [], []
    for video in videos:
        key = (video.folder / video.source.stem).resolve()
        if key in owners:
            if owners[key] != video.source.resolve():
                problems.append(f"{video.source}: its output names clash with {owners[key]} (same name "
                                "without suffix, same output folder); skipped")
            continue
        owners[key] = video.source.resolve()
        kept.append(video)
    return kept, problems
