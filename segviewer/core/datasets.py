"""Dataset layouts the project reads: KITTI semantics, Cityscapes (and IDD, in its layout),
CamVid (SegNet layout) and BDD100K.

KITTI (same as the official ``data_semantics.zip``)::

    training/image_2/<name>.png      RGB
    training/semantic/<name>.png     Cityscapes label IDs (mode "L")

CamVid as distributed with the SegNet tutorial::

    train/<name>.png  trainannot/<name>.png     (also val/valannot, test/testannot)

CamVid's 11 classes are merged Cityscapes classes. *Training* reads them as set labels
(:meth:`Sample.read_training_codes`, table in :mod:`segviewer.core.label_sets`), and the
original 32-class labels where they exist. For showing CamVid ground truth in the viewer
(:data:`CAMVID_TO_TRAIN`, one colour per pixel) a merged class is drawn as its dominant
member:

* Building (incl. walls, bridges, tunnels) -> building (dominant).
* Tree (incl. other vegetation) -> vegetation (dominant).
* SignSymbol (signs and traffic lights) -> traffic sign (dominant by pixel count).
* Car (incl. SUVs, trucks, buses, trains) -> car (dominant).
* Bicyclist (rider and bicycle/motorcycle together) -> rider: the person is most of a
  cyclist's pixels (a bicycle is thin frame and see-through wheels). The first training
  run ignored this class instead and could then never predict it (CamVid IoU 0).

Evaluating on CamVid is done in CamVid's own 11-class space (:data:`TRAIN_TO_CAMVID`
maps predictions down), so no prediction is punished for being finer than CamVid.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from segviewer.core.classes import VOID_TRAIN_ID
from segviewer.core.errors import SegviewerError
from segviewer.core.label_sets import (
    CAMVID11_TO_CODE,
    camvid32_codes,
    parse_camvid32_palette,
)
from segviewer.core.mask_io import read_label_ids, read_single_channel

CAMVID_CLASSES = ("Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol",
                  "Fence", "Car", "Pedestrian", "Bicyclist")
CAMVID_VOID = 11

# CamVid value -> train ID (255 = ignored in training).
CAMVID_TO_TRAIN = np.full(256, VOID_TRAIN_ID, np.uint8)
CAMVID_TO_TRAIN[:11] = [10, 2, 5, 0, 1, 8, 7, 4, 13, 11, 12]

# Train ID -> CamVid value, for scoring predictions in CamVid's space.
TRAIN_TO_CAMVID = np.full(256, CAMVID_VOID, np.uint8)
TRAIN_TO_CAMVID[:19] = [
    3,  # road -> Road
    4,  # sidewalk -> Pavement
    1, 1,  # building, wall -> Building
    7,  # fence -> Fence
    2,  # pole -> Pole
    6, 6,  # traffic light, traffic sign -> SignSymbol
    5, 5,  # vegetation, terrain -> Tree
    0,  # sky -> Sky
    9,  # person -> Pedestrian
    10,  # rider -> Bicyclist
    8, 8, 8, 8,  # car, truck, bus, train -> Car
    10, 10,  # motorcycle, bicycle -> Bicyclist
]

# BDD100K masks hold train IDs already; anything else is void.
BDD_TO_TRAIN = np.full(256, VOID_TRAIN_ID, np.uint8)
BDD_TO_TRAIN[:19] = np.arange(19)


class Layout(str, enum.Enum):
    """How a dataset stores its ground truth (a ``str`` enum: compares equal to its value)."""

    KITTI = "kitti"            # KITTI semantics: training/image_2 + training/semantic (label IDs)
    CITYSCAPES = "cityscapes"  # leftImg8bit/<split>/<city>/ + gtFine/<split>/<city>/ (label IDs)
    CAMVID = "camvid"          # CamVid's 11 class values (SegNet layout)
    BDD100K = "bdd100k"        # images/10k/<split>/*.jpg + labels/sem_seg/masks/<split>/*.png (train IDs)


LAYOUTS = tuple(layout.value for layout in Layout)
# The fixed KITTI validation split: training images 000040-000047.
KITTI_VALIDATION = range(40, 48)


@dataclass(frozen=True)
class Sample:
    image: Path
    label: Path | None
    layout: str

    def read_train_ids(self) -> np.ndarray:
        """Ground truth as train IDs (CamVid mapped with :data:`CAMVID_TO_TRAIN`)."""
        if self.label is None:
            raise ValueError(f"{self.image}: no ground truth")
        return read_ground_truth(self.label, self.layout)

    def read_training_codes(self) -> np.ndarray:
        """Ground truth for training: train IDs plus set labels for merged classes
        (:mod:`segviewer.core.label_sets`). CamVid uses its original 32-class label
        (``<split>annot32/``) where one exists, else the 11-class one."""
        if self.label is None:
            raise ValueError(f"{self.image}: no ground truth")
        if self.layout != "camvid":
            return read_ground_truth(self.label, self.layout)
        if self.has_camvid32_label():
            label32, palette_file = self._camvid32_files()
            palette = parse_camvid32_palette(palette_file.read_text(encoding="utf-8"))
            with Image.open(label32) as label:
                return camvid32_codes(np.asarray(label.convert("RGB")), palette)
        return CAMVID11_TO_CODE[read_single_channel(self.label)]

    @property
    def coarse(self) -> bool:
        """Labels made by a machine (Cityscapes ``gtCoarse``): lower trust in training."""
        return self.label is not None and self.label.name.endswith("_gtCoarse_labelIds.png")

    @property
    def scene(self) -> str:
        """What near-duplicate frames share: a Cityscapes sequence (``aachen_000006``); for
        an unlabelled frame, also the folder and its name without the frame number
        (``frames/solidWhiteRight`` for ``solidWhiteRight_000024.jpg``); else the image."""
        if self.layout == Layout.CITYSCAPES.value or (self.label is None and _cityscapes_stem(self.image)):
            return "_".join(self.image.name.split("_")[:2])
        if self.label is None:
            return str(self.image.parent / self.image.stem.rstrip("0123456789").rstrip("_-. "))
        return str(self.image)

    def has_camvid32_label(self) -> bool:
        """A CamVid sample whose original 32-class label (and its palette) exists."""
        return self.layout == "camvid" and self.label is not None and all(
            path.is_file() for path in self._camvid32_files())

    def _camvid32_files(self) -> tuple[Path, Path]:
        """(``<split>annot32/<name>``, ``label_colors32.txt``) beside the 11-class label."""
        return (self.label.parent.parent / f"{self.label.parent.name}32" / self.label.name,
                self.label.parent.parent / "label_colors32.txt")


def kitti_samples(root: Path, split: str = "training") -> list[Sample]:
    """Pairs under ``root/<split>/image_2`` and ``semantic`` (testing: labels None)."""
    images = sorted((Path(root) / split / "image_2").glob("*.png"))
    samples = []
    for image in images:
        label = image.parent.parent / "semantic" / image.name
        samples.append(Sample(image, label if label.exists() else None, "kitti"))
    return samples


CITYSCAPES_IMAGE_SUFFIXES = ("_leftImg8bit.png", "_leftImg8bit.jpg")  # IDD ships JPEGs in this layout


def _cityscapes_stem(image: Path) -> str | None:
    for suffix in CITYSCAPES_IMAGE_SUFFIXES:
        if image.name.endswith(suffix):
            return image.name.removesuffix(suffix)
    return None


def cityscapes_samples(root: Path, split: str) -> list[Sample]:
    """``leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png`` (or ``.jpg``, as IDD) with
    ``gtFine/<split>/<city>/<stem>_gtFine_labelIds.png`` (label None where it is missing,
    as for the test split). IDD's label 0 ("not labelled") is void, as in Cityscapes."""
    images = sorted(p for p in (Path(root) / "leftImg8bit" / split).glob("*/*_leftImg8bit.*")
                    if _cityscapes_stem(p) is not None)
    samples = []
    for image in images:
        stem = _cityscapes_stem(image)
        label = Path(root) / "gtFine" / split / image.parent.name / f"{stem}_gtFine_labelIds.png"
        samples.append(Sample(image, label if label.is_file() else None, Layout.CITYSCAPES.value))
    return samples


# The shared Cityscapes samples have no val split. Sequences 6 and 7 hold only key frames
# (no snippet frames in train_extra), so they are the clean validation split there.
CITYSCAPES_HELD_OUT_SCENES = ("aachen_000006", "aachen_000007")


def cityscapes_split(root: Path, split: str) -> list[Sample]:
    """Labelled Cityscapes samples of ``split`` ("train" or "val"). Without a ``val`` split
    (the shared samples), the key frames of :data:`CITYSCAPES_HELD_OUT_SCENES` validate
    and the other ``train`` frames train."""
    train = [s for s in cityscapes_samples(root, "train") if s.label is not None]
    val = [s for s in cityscapes_samples(root, "val") if s.label is not None]
    if not val:
        val = [s for s in train if s.scene in CITYSCAPES_HELD_OUT_SCENES]
        train = [s for s in train if s.scene not in CITYSCAPES_HELD_OUT_SCENES]
    return val if split == "val" else train


def cityscapes_coarse_samples(root: Path) -> list[Sample]:
    """``leftImg8bit/train_extra`` frames with ``gtCoarse/train_extra`` labels (machine-made
    in the shared samples), outside the held-out scenes."""
    samples = []
    for image in sorted((Path(root) / "leftImg8bit" / "train_extra").glob("*/*_leftImg8bit.png")):
        stem = image.name.removesuffix("_leftImg8bit.png")
        label = Path(root) / "gtCoarse" / "train_extra" / image.parent.name / f"{stem}_gtCoarse_labelIds.png"
        sample = Sample(image, label, Layout.CITYSCAPES.value)
        if label.is_file() and sample.scene not in CITYSCAPES_HELD_OUT_SCENES:
            samples.append(sample)
    return samples


def detect_layout(folder: Path) -> Layout | None:
    """The layout of a dataset folder (its own root), or None."""
    folder = Path(folder)
    if (folder / "images" / "10k").is_dir() and (folder / "labels" / "sem_seg" / "masks").is_dir():
        return Layout.BDD100K
    if (folder / "leftImg8bit").is_dir() and (folder / "gtFine").is_dir():
        return Layout.CITYSCAPES
    if (folder / "training" / "image_2").is_dir():
        return Layout.KITTI
    if (folder / "train").is_dir() and (folder / "trainannot").is_dir():
        return Layout.CAMVID
    return None


# Folders where a dataset layout keeps its ground truth, with the sibling folder that marks
# the layout: a user's own folder that merely shares the name is not truth.
_TRUTH_FOLDERS = {"semantic": "image_2", "semantic_rgb": "image_2", "instance": "image_2",  # KITTI
                  "gtFine": "leftImg8bit", "gtCoarse": "leftImg8bit",                       # Cityscapes, IDD
                  "labels": "images"}                                                       # BDD100K
_CAMVID_TRUTH_SUFFIXES = ("annot32", "annot")                                                # trainannot -> train


def is_truth_folder(folder: Path) -> bool:
    """Whether ``folder`` is (or lies below) a folder where a dataset layout keeps its
    ground truth: KITTI ``semantic/`` beside ``image_2/``, Cityscapes ``gtFine/`` beside
    ``leftImg8bit/``, CamVid ``trainannot/`` (and ``trainannot32/``) beside ``train/``,
    BDD100K ``labels/`` beside ``images/``. Files there are labels, never photos."""
    parts = Path(folder).parts
    for index, part in enumerate(parts):
        parent = Path(*parts[:index]) if index else Path(".")
        sibling = _TRUTH_FOLDERS.get(part)
        if sibling is None:
            sibling = next((part[:-len(end)] for end in _CAMVID_TRUTH_SUFFIXES
                            if part.endswith(end) and len(part) > len(end)), None)
        if sibling is not None and (parent / sibling).is_dir():
            return True
    return False


def is_truth_file(path: Path, folders: dict[Path, bool] | None = None) -> bool:
    """A label file by its name (Cityscapes ``*_gtFine_labelIds.png`` and kin) or its place
    (:func:`is_truth_folder`). ``folders`` remembers each folder's answer, so a search
    looks at the disk once per folder, not once per file."""
    if "_gtFine_" in path.name or "_gtCoarse_" in path.name:
        return True
    if folders is None:
        return is_truth_folder(path.parent)
    if path.parent not in folders:
        folders[path.parent] = is_truth_folder(path.parent)
    return folders[path.parent]


def is_kitti_validation(sample: Sample) -> bool:
    """Whether a KITTI sample (``0000NN_10.png``) belongs to the fixed validation split."""
    return int(sample.image.name.split("_")[0]) in KITTI_VALIDATION


def camvid_samples(root: Path, split: str) -> list[Sample]:
    images = sorted((Path(root) / split).glob("*.png"))
    return [Sample(i, Path(root) / f"{split}annot" / i.name, "camvid") for i in images]


# BDD100K's 10K set has its own val split; the 16 shared frames are all "train", so every
# fourth of them (sorted by name) validates.
BDD_VALIDATION_EVERY = 4


def bdd100k_samples(root: Path, split: str) -> list[Sample]:
    """``images/10k/<split>/<id>.jpg`` with ``labels/sem_seg/masks/<split>/<id>.png``
    (train IDs). Without a ``val`` folder, every :data:`BDD_VALIDATION_EVERY`-th ``train``
    frame is the ``val`` split and the others ``train``."""
    def pairs(folder: str) -> list[Sample]:
        images = sorted((Path(root) / "images" / "10k" / folder).glob("*.jpg"))
        masks = Path(root) / "labels" / "sem_seg" / "masks" / folder
        return [Sample(i, masks / f"{i.stem}.png", Layout.BDD100K.value) for i in images
                if (masks / f"{i.stem}.png").is_file()]

    if (Path(root) / "images" / "10k" / "val").is_dir():
        return pairs(split)
    everything = pairs("train")
    held_out = everything[BDD_VALIDATION_EVERY - 1::BDD_VALIDATION_EVERY]
    return held_out if split == "val" else [s for s in everything if s not in held_out]


def find_ground_truth(image: Path) -> tuple[Path, str] | None:
    """Ground truth stored beside an image in a known layout, with its layout name.

    KITTI ``../semantic/<name>``, Cityscapes ``*_leftImg8bit.png`` ->
    ``gtFine/.../*_gtFine_labelIds.png``, CamVid ``<split>annot/<name>``.
    """
    image = Path(image)
    kitti = image.parent.parent / "semantic" / image.name
    if image.parent.name == "image_2" and kitti.is_file():
        return kitti, "kitti"
    stem = _cityscapes_stem(image)
    if stem is not None:
        parts = list(image.parts)
        if "leftImg8bit" in parts:
            index = len(parts) - 1 - parts[::-1].index("leftImg8bit")
            parts[index] = "gtFine"
            candidate = Path(*parts).parent / f"{stem}_gtFine_labelIds.png"
            if candidate.is_file():
                return candidate, Layout.CITYSCAPES.value
    camvid = image.parent.parent / f"{image.parent.name}annot" / image.name
    if camvid.is_file():
        return camvid, "camvid"
    if image.parent.parent.name == "10k" and image.parent.parent.parent.name == "images":
        bdd = image.parents[3] / "labels" / "sem_seg" / "masks" / image.parent.name / f"{image.stem}.png"
        if bdd.is_file():
            return bdd, Layout.BDD100K.value
    return None


def read_ground_truth(path: Path, layout: str) -> np.ndarray:
    """Ground truth as train IDs for ``layout`` in :data:`LAYOUTS` (KITTI and Cityscapes
    both store Cityscapes label IDs)."""
    if layout == "camvid":
        return CAMVID_TO_TRAIN[read_single_channel(Path(path))]
    if layout == Layout.BDD100K.value:
        return BDD_TO_TRAIN[read_single_channel(Path(path))]
    return read_label_ids(path)


def guess_layout(truth_path: Path) -> Layout:
    """The layout of a ground-truth file picked by hand: CamVid when it sits in a
    ``<split>annot`` folder, BDD100K (train IDs) under ``sem_seg/masks``, else
    Cityscapes/KITTI label IDs."""
    path = Path(truth_path)
    if path.parent.name.endswith("annot"):
        return Layout.CAMVID
    if path.parent.parent.name == "masks" and path.parent.parent.parent.name == "sem_seg":
        return Layout.BDD100K
    return Layout.KITTI


def find_truth_for(image_path: Path, shape: tuple[int, int]) -> tuple[np.ndarray | None, Path | None, str, str]:
    """Ground truth stored beside ``image_path`` in a known layout, if it fits the image:
    (train IDs, path, why not used, layout)."""
    found = find_ground_truth(image_path)
    if found is None:
        return None, None, "", ""
    truth_path, layout = found
    return (*read_truth(truth_path, layout, shape), layout)


def read_truth(truth_path: Path, layout: str, shape: tuple[int, int]) -> tuple[np.ndarray | None, Path | None, str]:
    """Ground truth as train IDs if it fits an image of ``shape``; else why not."""
    try:
        truth = read_ground_truth(truth_path, layout)
    except SegviewerError as error:
        return None, None, str(error)
    if truth.shape != shape:
        return None, None, (f"{truth_path}: ground truth is {truth.shape[1]}x{truth.shape[0]}, "
                            f"the image {shape[1]}x{shape[0]}; not used")
    if (truth == VOID_TRAIN_ID).all():
        return None, None, f"{truth_path}: holds no labelled pixel (all void); not used"
    return truth, truth_path, ""


# -- the fixed split ------------------------------------------------------------------

IDD = "idd"


def dataset_folders(root: Path) -> list[tuple[Layout, Path]]:
    """The datasets in ``root``, as (layout, folder): ``root`` itself when it is one (KITTI,
    Cityscapes, CamVid or BDD100K layout), else its sub-folders that are (e.g.
    ``kitti_semantics/``, ``camvid/``, ``cityscapes_samples/`` and ``idd_samples/``, both
    in the Cityscapes layout)."""
    root = Path(root)
    own = detect_layout(root)
    if own is not None:
        return [(own, root)]
    found: list[tuple[Layout, Path]] = []
    for child in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        layout = detect_layout(child)
        if layout is not None:
            found.append((layout, child))
    return found


def split_samples(*roots: Path, coarse: bool = False) -> tuple[list[Sample], list[Sample]]:
    """(train, validation) samples from every dataset under ``roots``. Splits: KITTI
    000040-000047 validate (the rest train), Cityscapes and CamVid their own train / val
    (Cityscapes without a val split: :func:`cityscapes_split`). ``coarse`` adds the
    Cityscapes ``train_extra`` frames with their ``gtCoarse`` labels to training."""
    train: list[Sample] = []
    validation: list[Sample] = []
    for root in roots:
        for layout, folder in dataset_folders(root):
            if layout is Layout.KITTI:
                for sample in kitti_samples(folder, "training"):
                    if sample.label is not None:
                        (validation if is_kitti_validation(sample) else train).append(sample)
            elif layout is Layout.CITYSCAPES and folder.name.lower().startswith("idd"):
                # IDD in the Cityscapes layout labels only people and vehicles: its void
                # means "not labelled", which a teacher may fill.
                train += [dataclasses.replace(s, layout=IDD) for s in cityscapes_samples(folder, "train")
                          if s.label is not None]
            elif layout is Layout.CITYSCAPES:
                train += cityscapes_split(folder, "train")
                validation += cityscapes_split(folder, "val")
                if coarse:
                    train += cityscapes_coarse_samples(folder)
            elif layout is Layout.BDD100K:
                train += bdd100k_samples(folder, "train")
                validation += bdd100k_samples(folder, "val")
            else:
                train += camvid_samples(folder, "train")
                validation += camvid_samples(folder, "val")
    return train, validation
