"""Score one or two models on a folder of images with ground truth, keeping one confusion
matrix per image (never the masks), so memory stays flat on any number of frames.

Qt-free: ``segviewer evaluate --model`` uses it, and the viewer's dataset panel is meant
renders what it returns. Scores follow the benchmark rule of :mod:`segviewer.core.metrics`
in the truth's own class space (:mod:`segviewer.core.truth_space`): CamVid truth is scored
in CamVid's 11 classes, KITTI and Cityscapes truth in the 19 train classes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from segviewer.core.atomic import write_atomic
from segviewer.core.classes import load_class_table
from segviewer.core.datasets import find_truth_for
from segviewer.core.errors import SegviewerError
from segviewer.core.metrics import (
    Scores,
    confusion_matrix,
    scores_document,
    scores_from_confusion,
    write_confusion_csv,
)
from segviewer.core.truth_space import TruthSpace, space_for


@dataclass
class ImageScore:
    """One image: its confusion matrix per model (rows truth, columns prediction) and,
    with two models, the share of pixels on which they disagree."""

    path: Path
    truth_path: Path | None
    layout: str
    confusion: list[np.ndarray] = field(default_factory=list)  # one per model
    disagreement: float | None = None
    note: str = ""
    failed: bool = False  # the image could not be read (``note`` says why)
    _scores: dict[int, Scores] = field(default_factory=dict, init=False, repr=False, compare=False)

    def scores(self, model: int = 0) -> Scores | None:
        """Computed once (on the thread that scores the image, so the GUI only reads them)."""
        if not self.confusion:
            return None
        if model not in self._scores:
            self._scores[model] = scores_from_confusion(self.confusion[model])
        return self._scores[model]

    def row(self, names: list[str], models: int) -> dict:
        """A JSON row: per model mean IoU, pixel accuracy and IoU per class."""
        row: dict = {"image": str(self.path), "ground_truth": str(self.truth_path) if self.truth_path else None,
                     "class_space": self.layout or None}
        if self.disagreement is not None:
            row["disagreement"] = round(self.disagreement, 6)
        if self.note:
            row["note"] = self.note
        for index in range(models if self.confusion else 0):
            scores = self.scores(index)
            document = scores_document(scores, names, 1)
            row[_model_key(index, models)] = {"miou": document["miou"], "pixel_accuracy": document["pixel_accuracy"],
                                              "per_class": document["per_class"],
                                              # Kept so a saved result opens again without the network.
                                              "confusion": self.confusion[index].tolist()}
        return row


def _model_key(index: int, models: int) -> str:
    return "scores" if models == 1 else ("A", "B")[index]


@dataclass
class DatasetScores:
    """Everything an evaluation found, per class space (a folder may mix datasets)."""

    model_names: list[str]
    images: list[ImageScore] = field(default_factory=list)
    stopped: bool = False  # cancelled before the last image: the scores cover those before

    def spaces(self) -> list[str]:
        return sorted({image.layout for image in self.images if image.confusion})

    def total_confusion(self, layout: str, model: int = 0) -> np.ndarray:
        matrices = [image.confusion[model] for image in self.images if image.confusion and image.layout == layout]
        return np.sum(matrices, axis=0)

    def scores(self, layout: str, model: int = 0) -> Scores:
        return scores_from_confusion(self.total_confusion(layout, model))

    def image_count(self, layout: str) -> int:
        """Scored images in class space ``layout``."""
        return sum(1 for image in self.images if image.confusion and image.layout == layout)

    def main_space(self) -> str | None:
        """The class space most of the scored images are in; a tie goes to the first name
        in alphabetical order (never to set order, which changes with PYTHONHASHSEED)."""
        spaces = self.spaces()
        return min(spaces, key=lambda layout: (-self.image_count(layout), layout)) if spaces else None

    def document(self) -> dict:
        """The JSON ``segviewer evaluate --model`` writes: per class space the set's
        scores for each model (and B - A), then one row per image."""
        table = load_class_table()
        models = len(self.model_names)
        result: dict = {"models": {_model_key(i, models): name for i, name in enumerate(self.model_names)},
                        "spaces": {}}
        for layout in self.spaces():
            names = space_for(layout).class_names(table)
            count = self.image_count(layout)
            per_model = [scores_document(self.scores(layout, i), names, count) for i in range(models)]
            entry = {_model_key(i, models): doc for i, doc in enumerate(per_model)}
            if models == 2:
                entry["delta_B_minus_A"] = _delta(per_model[0], per_model[1])
            result["spaces"][layout] = entry
        names_by_space = {layout: space_for(layout).class_names(table) for layout in self.spaces()}
        result["images"] = [image.row(names_by_space.get(image.layout, []), models) for image in self.images]
        return result


def csv_paths(csv_path: Path, models: int) -> list[Path]:
    """Where each model's confusion CSV goes: ``csv_path`` for A, ``<stem>_B.csv`` for B."""
    return [csv_path] + [csv_path.with_name(f"{csv_path.stem}_B{csv_path.suffix}")] * (models == 2)


def result_paths(result: DatasetScores, json_path: Path | None, csv_path: Path | None) -> list[Path]:
    """Every file :func:`save_result` would write. Raises SegviewerError when two of them
    are one file (the JSON named like its CSV): one would silently replace the other."""
    paths = [json_path] if json_path is not None else []
    if csv_path is not None and result.main_space() is not None:
        paths += csv_paths(csv_path, len(result.model_names))
    resolved = [Path(os.path.abspath(p)) for p in paths]
    for index, path in enumerate(resolved):
        if path in resolved[:index]:
            raise SegviewerError(paths[index], "the scores (JSON) and the confusion matrix (CSV) would be the "
                                               "same file; give the JSON a name ending in .json")
    return paths


def save_result(result: DatasetScores, json_path: Path | None, csv_path: Path | None) -> list[Path]:
    """Write the JSON document and, for the main class space, each model's confusion matrix
    as CSV (see :func:`csv_paths`); every file atomically. The files written. Refuses
    (SegviewerError) outputs that coincide, before writing anything."""
    result_paths(result, json_path, csv_path)
    written: list[Path] = []
    if json_path is not None:
        payload = json.dumps(result.document(), indent=1, allow_nan=False).encode()
        write_atomic(json_path, lambda file: file.write(payload), overwrite=True)
        written.append(json_path)
    layout = result.main_space()
    if csv_path is not None and layout is not None:
        names = space_for(layout).class_names(load_class_table())
        for model, path in enumerate(csv_paths(csv_path, len(result.model_names))):
            matrix = result.total_confusion(layout, model)
            write_atomic(path, lambda file, m=matrix: write_confusion_csv(file, m, names), overwrite=True)
            written.append(path)
    return written


_MAX_COUNT = 2 ** 53  # pixel counts a JSON number holds exactly


def _check_document(document: Any) -> None:
    """Raise ValueError saying what is wrong with a saved result, before anything is built
    from it: its models, every row's class space, and each confusion matrix's shape and
    counts (a hand-edited file must never show nonsense or half a result)."""
    from segviewer.core.datasets import LAYOUTS

    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    models = document.get("models")
    if not isinstance(models, dict) or not all(isinstance(v, str) for v in models.values()):
        raise ValueError('"models" must map "scores" (one model) or "A" and "B" to model names')
    keys = list(models)
    if keys not in (["scores"], ["A", "B"]):
        raise ValueError(f'"models" must be {{"scores": ...}} or {{"A": ..., "B": ...}}, not keys {keys}')
    rows = document.get("images")
    if not isinstance(rows, list):
        raise ValueError('"images" must be a list of rows')
    table = load_class_table()
    for number, row in enumerate(rows, start=1):
        where = f"image row {number}"
        if not isinstance(row, dict) or not isinstance(row.get("image"), str):
            raise ValueError(f'{where}: must be an object with an "image" path')
        space = row.get("class_space")
        scored = [key for key in keys if key in row]
        if not scored:
            continue
        if scored != keys:
            raise ValueError(f"{where}: has scores for {', '.join(scored)} but not for every model ({', '.join(keys)})")
        if space not in LAYOUTS:
            raise ValueError(f"{where}: unknown class space {space!r} (one of {', '.join(LAYOUTS)})")
        classes = len(space_for(space).class_names(table))
        for key in keys:
            matrix = row[key].get("confusion") if isinstance(row[key], dict) else None
            if (not isinstance(matrix, list) or len(matrix) != classes
                    or not all(isinstance(r, list) and len(r) == classes + 1 for r in matrix)):
                raise ValueError(f"{where}, {key}: the confusion matrix must be {classes} rows of {classes + 1} "
                                 f"counts for {space}")
            if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < _MAX_COUNT
                       for r in matrix for v in r):
                raise ValueError(f"{where}, {key}: confusion counts must be whole numbers from 0 to 2^53")
        disagreement = row.get("disagreement")
        if disagreement is not None and not (isinstance(disagreement, (int, float)) and 0 <= disagreement <= 1):
            raise ValueError(f"{where}: disagreement must be a share from 0 to 1")


def from_document(document: dict) -> DatasetScores:
    """A :class:`DatasetScores` back from :meth:`DatasetScores.document` (a saved result).
    Raises ValueError naming what is wrong with a document that is not one."""
    _check_document(document)
    keys = list(document["models"])
    result = DatasetScores(list(document["models"].values()))
    for row in document["images"]:
        confusion = [np.asarray(row[key]["confusion"], np.int64) for key in keys if key in row]
        result.images.append(ImageScore(Path(row["image"]), Path(row["ground_truth"]) if row.get("ground_truth")
                                        else None, row.get("class_space") or "", confusion,
                                        row.get("disagreement"), row.get("note", "")))
    return result


def _delta(a: dict, b: dict) -> dict:
    def minus(x, y):
        return None if x is None or y is None else y - x

    return {"miou": minus(a["miou"], b["miou"]), "pixel_accuracy": minus(a["pixel_accuracy"], b["pixel_accuracy"]),
            "per_class": {name: minus(a["per_class"][name], b["per_class"][name]) for name in a["per_class"]}}


def score_image(predictions: list[np.ndarray], truth: np.ndarray | None, space: TruthSpace) -> tuple[
        list[np.ndarray], float | None]:
    """Confusion matrices of each prediction against ``truth`` (none without truth), and
    the share of pixels where two predictions disagree."""
    disagreement = float(np.mean(predictions[0] != predictions[1])) if len(predictions) == 2 else None
    if truth is None:
        return [], disagreement
    classes = len(space.class_names(load_class_table()))
    return [confusion_matrix(space.native(truth), space.native(p), classes) for p in predictions], disagreement


def evaluate_images(paths: list[Path], segmenters: list, load: Callable[[Path], np.ndarray],
                    model_names: list[str], truth_for: Callable[[Path, tuple[int, int]], tuple] = find_truth_for,
                    progress: Callable[[int, Path], None] | None = None,
                    should_stop: Callable[[], bool] | None = None,
                    cached: dict[Path, np.ndarray] | None = None) -> DatasetScores:
    """Segment every image with each of ``segmenters`` (one or two models) and score it
    against the truth ``truth_for`` finds (default: beside the image, as the viewer does).

    Model A runs through :class:`ImagePipeline` (decoding ahead, scoring and model B on the
    finishing thread while A's network takes the next image); ``cached`` masks of model A
    (the viewer's) are not computed again. ``progress(n, path)`` hears of the n-th image as
    the network takes it; ``should_stop`` is asked before each, and the images already
    past the network are still scored."""
    from segviewer.core.pipeline import ImagePipeline

    result = DatasetScores(model_names)
    known = dict(cached or {})

    def is_known(path: Path, image: np.ndarray) -> bool:
        mask = known.get(path)
        return mask is not None and mask.shape == image.shape[:2]

    def score(path: Path, image: np.ndarray, prediction) -> ImageScore:
        predictions = [known[path] if prediction is None else prediction.train_ids]
        predictions += [other.predict(image).train_ids for other in segmenters[1:]]
        truth, truth_path, note, layout = truth_for(path, image.shape[:2])
        confusion, disagreement = score_image(predictions, truth, space_for(layout))
        scored = ImageScore(path, truth_path, layout if truth is not None else "", confusion, disagreement, note)
        for model in range(len(confusion)):
            scored.scores(model)
        return scored

    def record(outcome) -> None:
        if outcome.error is not None:  # reported in the row, the rest goes on
            result.images.append(ImageScore(outcome.job, None, "", note=str(outcome.error), failed=True))
        else:
            result.images.append(outcome.result)

    with ImagePipeline(segmenters[0], score, known=is_known) as pipeline:
        for outcome in pipeline.outcomes(paths, lambda p: p, load, should_stop=should_stop, started=progress):
            record(outcome)
        result.stopped = pipeline.stopped
    return result


def evaluate_job(paths: list[Path], model_name: str, model_b: Callable[[], tuple[Any, Path] | None] | None = None,
                 cached: dict[Path, np.ndarray] | None = None):
    """A model-worker batch job (``job(segmenter, progress, should_stop)``) that evaluates
    ``paths`` with the loaded model, and with model B too when ``model_b()`` (asked when
    the job starts, on the worker) gives its segmenter and file; returns a
    :class:`DatasetScores`. ``cached`` holds masks model A already made (the viewer's
    cache): those images are not run again."""
    from segviewer.core.image_io import load_image

    def job(segmenter, progress, should_stop) -> DatasetScores:
        segmenters, names = [segmenter], [model_name]
        other = model_b() if model_b is not None else None
        if other is not None:
            segmenter_b, path_b = other
            segmenters.append(segmenter_b)
            names.append(path_b.name)
        return evaluate_images(paths, segmenters, load_image, names,
                               progress=lambda done, path: progress(done, len(paths), path.name),
                               should_stop=should_stop, cached=cached)

    return job
