"""Teacher labels (from :mod:`training.teach`) joined with the human labels.

Each use is a switch, so each can be measured on its own (docs/model_quality.md):

* ``narrow``: inside a merged label (CamVid "Car", "Building", "Bicyclist", 32-class
  "Truck_Bus", ...) the teacher's class replaces the set where every teacher view agreed
  on it and it is one of the set's members. Elsewhere the set loss stays.
* ``fill``: where the human label is void, the teacher's class as a lower-trust (soft)
  label, where every view agreed. Cityscapes void (ego car, out of the region of
  interest) is marked on purpose and is never filled.

A specific human label (a train ID) is never changed: only set codes and void are.

Two kinds of label folders are read: those ``training.teach`` writes (a view count and an
agreement PNG per image) and the shared EfficientViT labels
(``../shared/teachers/efficientvit_b0_labels``: a probability PNG per image, image paths
relative to the datasets folder), where "trusted" means a probability of at least
``threshold``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segviewer.core.classes import NUM_TRAIN_CLASSES, VOID_TRAIN_ID
from segviewer.core.label_sets import LABEL_SETS, soften
from segviewer.core.mask_io import read_single_channel

USES = ("narrow", "fill")
MANIFEST = "manifest.json"
AGREEMENT_SUFFIX = "_agree"
# Layouts whose void is "not labelled" rather than a region marked as not to be learned
# (Cityscapes marks the ego car and the frame's border void on purpose).
FILLABLE_LAYOUTS = ("kitti", "camvid", "bdd100k", "idd", "unlabelled")
PROBABILITY_SUFFIX = "_prob"


def pseudo_label_paths(out: Path, relative: Path) -> tuple[Path, Path]:
    """(train IDs, agreement) PNGs of one image in a ``training.teach`` output folder."""
    base = Path(out) / relative
    return base.with_name(base.name + ".png"), base.with_name(base.name + AGREEMENT_SUFFIX + ".png")


@dataclass(frozen=True)
class TeacherView:
    train_ids: np.ndarray   # uint8 (H, W), 255 where the teacher named no class
    unanimous: np.ndarray   # bool (H, W): every view voted for train_ids


class TeacherLabels:
    """The pseudo-labels of one or more label folders, by image: ``training.teach``
    outputs, or the shared EfficientViT labels (their relative image paths are looked up
    under ``data_roots``; a pixel is trusted from probability ``threshold`` on)."""

    def __init__(self, folders: list[Path], data_roots: list[Path] = (), threshold: float = 0.7) -> None:
        # image -> (labels PNG, trust PNG, the trust value from which a pixel counts)
        self._by_image: dict[Path, tuple[Path, Path, int]] = {}
        self.manifests: list[dict] = []
        for folder in folders:
            manifest = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
            if "settings" not in manifest:  # the shared EfficientViT labels
                self._add_probability_labels(Path(folder), manifest, data_roots, threshold)
                continue
            self.manifests.append({"folder": str(folder), "settings": manifest["settings"],
                                   "seconds_total": manifest.get("seconds_total"),
                                   "images": len(manifest["images"])})
            for relative, entry in manifest["images"].items():
                labels, agreement = pseudo_label_paths(folder, Path(relative))
                self._by_image[Path(entry["image"]).resolve()] = (labels, agreement, int(entry["views"]))

    def _add_probability_labels(self, folder: Path, manifest: dict, data_roots: list[Path], threshold: float) -> None:
        found = 0
        for relative, entry in manifest["images"].items():
            for root in data_roots:
                image = Path(root) / entry["image"]
                if image.is_file():
                    labels = folder / f"{relative}.png"
                    self._by_image[image.resolve()] = (labels, labels.with_name(labels.stem + PROBABILITY_SUFFIX
                                                                                + ".png"),
                                                       max(1, round(threshold * 255)))
                    found += 1
                    break
        self.manifests.append({"folder": str(folder), "images": found, "threshold": threshold,
                               "settings": {"teacher": manifest.get("teacher"),
                                            "teacher_sha256": manifest.get("teacher_sha256"),
                                            "scales": manifest.get("scales"), "mirror": True}})

    def __len__(self) -> int:
        return len(self._by_image)

    def view(self, image: Path) -> TeacherView | None:
        found = self._by_image.get(Path(image).resolve())
        if found is None:
            return None
        labels, trust_path, trusted_from = found
        return TeacherView(read_single_channel(labels), read_single_channel(trust_path) >= trusted_from)


def apply_teacher(codes: np.ndarray, teacher: TeacherView, uses: set[str], layout: str,
                  skip_classes: frozenset[int] = frozenset()) -> np.ndarray:
    """``codes`` (training codes) with the teacher's answer where ``uses`` allow it; the
    teacher is never trusted for ``skip_classes`` (train IDs where it disagrees with our
    human labels, e.g. CamVid's fences)."""
    if teacher.train_ids.shape != codes.shape:
        return codes
    codes = codes.copy()
    trusted = teacher.unanimous & (teacher.train_ids < NUM_TRAIN_CLASSES)
    if skip_classes:
        trusted &= ~np.isin(teacher.train_ids, sorted(skip_classes))
    if "narrow" in uses:
        for code, members in LABEL_SETS.items():
            narrowed = (codes == code) & trusted & np.isin(teacher.train_ids, members)
            codes[narrowed] = teacher.train_ids[narrowed]
    if "fill" in uses and layout in FILLABLE_LAYOUTS:
        filled = (codes == VOID_TRAIN_ID) & trusted
        codes[filled] = soften(teacher.train_ids[filled])
    return codes


def parse_uses(text: str) -> set[str]:
    uses = {part.strip() for part in text.split(",") if part.strip()}
    unknown = uses - set(USES)
    if unknown:
        raise SystemExit(f"error: --teacher-uses takes {', '.join(USES)}; not {', '.join(sorted(unknown))}")
    return uses
