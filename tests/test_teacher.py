"""Pseudo-labels from a teacher (training.teach) and how training joins them with human labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segviewer.core.label_sets import SOFT_BASE
from training.pseudo_labels import TeacherView, apply_teacher
from training.teach import tile_starts

SHARED_TEACHERS = Path(__file__).resolve().parents[1].parent / "shared" / "teachers"
REAL_TEACHER = SHARED_TEACHERS / "cityscapes_deeplab_edgetpu_slim_int8.tflite"
ROAD, SIDEWALK, BUILDING, WALL, SKY, CAR, TRUCK, BUS = 0, 1, 2, 3, 10, 13, 14, 15


def _colour_teacher(path: Path, quantised: bool) -> Path:
    """A 32x32 teacher that calls reddish pixels road and the rest sky: float input with
    class scores, or uint8 input with an argmax output (like the real teacher)."""
    import tensorflow as tf

    weights = np.zeros((1, 1, 3, 19), np.float32)
    weights[0, 0, :, ROAD] = [1, -1, 0]
    weights[0, 0, :, SKY] = [-1, 1, 0]
    bias = np.full(19, -50.0, np.float32)
    bias[[ROAD, SKY]] = 0

    @tf.function(input_signature=[tf.TensorSpec([1, 32, 32, 3], tf.float32)])
    def scores(pixels):
        return tf.nn.conv2d(pixels, tf.constant(weights), 1, "SAME") + tf.constant(bias)

    @tf.function(input_signature=[tf.TensorSpec([1, 32, 32, 3], tf.float32)])
    def labels(pixels):
        return tf.argmax(scores(pixels), axis=-1)

    function = labels if quantised else scores
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()])
    if quantised:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: (
            [np.random.default_rng(i).uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)] for i in range(8))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
    path.write_bytes(converter.convert())
    return path


def _road_and_sky(path: Path) -> Path:
    """50x90: the left 40 columns red (road to the teacher), the rest green (sky)."""
    pixels = np.zeros((50, 90, 3), np.uint8)
    pixels[:, :40, 0] = 220
    pixels[:, 40:, 1] = 220
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def test_tiles_cover_the_image_with_overlap():
    assert tile_starts(20, 32, 0.5) == [0]
    starts = tile_starts(90, 32, 0.5)
    assert starts[0] == 0 and starts[-1] == 90 - 32
    assert all(b - a <= 16 for a, b in zip(starts, starts[1:]))


@pytest.mark.parametrize("quantised", [False, True], ids=["float-scores", "uint8-argmax"])
def test_teach_labels_a_folder_by_tiles_scales_and_mirror_and_reuses_its_work(tmp_path, quantised, capsys):
    from training.teach import main

    teacher = _colour_teacher(tmp_path / "teacher.tflite", quantised)
    _road_and_sky(tmp_path / "frames" / "a.png")
    out = tmp_path / "labels"
    arguments = ["--teacher", str(teacher), "--data", str(tmp_path / "frames"), "--out", str(out),
                 "--scales", "1.0", "0.5"]
    assert main(arguments) == 0
    labels = np.asarray(Image.open(out / "frames" / "a.png"))
    agreement = np.asarray(Image.open(out / "frames" / "a_agree.png"))
    assert labels.shape == (50, 90)
    # Away from the colour edge every view (2 scales x mirror) agrees.
    assert (labels[:, :36] == ROAD).all() and (labels[:, 44:] == SKY).all()
    assert (agreement[:, :36] == 4).all() and (agreement[:, 44:] == 4).all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["teacher_output"] == ("argmax" if quantised else "scores")
    assert manifest["settings"]["teacher_input"] == ("uint8" if quantised else "float32")
    assert manifest["images"]["frames/a"]["views"] == 4
    assert len(manifest["settings"]["teacher_sha256"]) == 64
    capsys.readouterr()
    assert main(arguments) == 0  # a re-run reuses what is done
    assert "1 already labelled" in capsys.readouterr().out
    assert main([*arguments[:-2], "1.0"]) == 2  # other settings into the same folder: refused


def test_teach_refuses_a_missing_teacher_in_one_line(tmp_path, capsys):
    from training.teach import main

    assert main(["--teacher", str(tmp_path / "none.tflite"), "--data", str(tmp_path), "--out",
                 str(tmp_path / "o")]) == 2
    assert "no such teacher file" in capsys.readouterr().err


def _view(train_ids, unanimous=True):
    train_ids = np.asarray(train_ids, np.uint8)
    return TeacherView(train_ids, np.full(train_ids.shape, unanimous))


def test_narrowing_takes_the_teachers_member_class_and_never_touches_exact_labels():
    # CamVid "Car" (19 = car/truck/bus/train), "Building" (20), an exact road and void.
    codes = np.array([[19, 19, 20, ROAD, 255]], np.uint8)
    teacher = _view([[TRUCK, SKY, WALL, SIDEWALK, CAR]])
    narrowed = apply_teacher(codes, teacher, {"narrow"}, "camvid")
    # Truck lies in the Car set; sky does not (the set stays); road is a human label.
    assert narrowed.tolist() == [[TRUCK, 19, WALL, ROAD, 255]]
    assert apply_teacher(codes, _view([[TRUCK, SKY, WALL, SIDEWALK, CAR]], unanimous=False),
                         {"narrow"}, "camvid").tolist() == codes.tolist()


def test_filling_gives_void_a_soft_teacher_label_where_the_views_agree():
    codes = np.array([[255, 255, ROAD, 19]], np.uint8)
    teacher = TeacherView(np.array([[CAR, SKY, SKY, TRUCK]], np.uint8), np.array([[True, False, True, True]]))
    filled = apply_teacher(codes, teacher, {"fill"}, "kitti")
    assert filled.tolist() == [[SOFT_BASE + CAR, 255, ROAD, 19]]
    # Cityscapes marks its void (ego car, out of the region of interest) on purpose.
    assert apply_teacher(codes, teacher, {"fill"}, "cityscapes").tolist() == codes.tolist()


@pytest.mark.skipif(not REAL_TEACHER.is_file(), reason="../shared/teachers is absent")
def test_the_real_teacher_reproduces_its_reference_pair():
    from training.teach import Teacher

    teacher = Teacher(REAL_TEACHER)
    pixels = np.asarray(Image.open(SHARED_TEACHERS / "reference_input_513.bmp").convert("RGB"))
    reference = np.asarray(Image.open(SHARED_TEACHERS / "reference_argmax_513.bmp"))
    # The reference mask was made by the EdgeTPU build; LiteRT agrees on 92 % (shared README).
    assert (teacher.label_tile(pixels) == reference).mean() > 0.9


def test_the_shared_probability_labels_fill_void_where_the_teacher_is_sure(tmp_path):
    """The shared EfficientViT labels: image paths relative to the datasets folder, a
    probability PNG beside each label; a pixel is trusted from the threshold on, and a
    specific human label is never changed."""
    import json

    import numpy as np
    from PIL import Image

    from segviewer.core.label_sets import SOFT_BASE
    from training.pseudo_labels import TeacherLabels, apply_teacher

    datasets = tmp_path / "datasets"
    (datasets / "kitti_semantics" / "training" / "image_2").mkdir(parents=True)
    image = datasets / "kitti_semantics" / "training" / "image_2" / "000001_10.png"
    Image.fromarray(np.zeros((2, 3, 3), np.uint8)).save(image)
    labels = tmp_path / "labels"
    (labels / "kitti_semantics" / "training" / "image_2").mkdir(parents=True)
    stem = labels / "kitti_semantics" / "training" / "image_2" / "000001_10"
    Image.fromarray(np.full((2, 3), 8, np.uint8)).save(f"{stem}.png")  # vegetation everywhere
    Image.fromarray(np.array([[255, 170, 255], [0, 255, 255]], np.uint8)).save(f"{stem}_prob.png")
    (labels / "manifest.json").write_text(json.dumps({"images": {"kitti_semantics/training/image_2/000001_10": {
        "image": "kitti_semantics/training/image_2/000001_10.png"}}, "scales": {}, "teacher": "t.pt"}))
    teacher = TeacherLabels([labels], data_roots=[datasets], threshold=0.7)
    assert len(teacher) == 1
    view = teacher.view(image)
    assert view.unanimous.tolist() == [[True, False, True], [False, True, True]]
    human = np.array([[255, 255, 255], [255, 255, 0]], np.uint8)  # void, and one road pixel
    codes = apply_teacher(human, view, {"fill"}, "kitti")
    assert codes.tolist() == [[SOFT_BASE + 8, 255, SOFT_BASE + 8], [255, SOFT_BASE + 8, 0]]


def _strided_teacher(path: Path, dynamic: bool = False) -> Path:
    """A teacher whose scores come out at stride 8 (4x4 for its 32x32 input), or one with
    no fixed input size."""
    import tensorflow as tf

    spec = tf.TensorSpec([1, None, None, 3] if dynamic else [1, 32, 32, 3], tf.float32)

    @tf.function(input_signature=[spec])
    def scores(pixels):
        pooled = tf.nn.avg_pool2d(pixels, 8, 8, "VALID")
        return tf.concat([pooled] * 6 + [pooled[..., :1]], axis=-1)  # 19 channels

    path.write_bytes(tf.lite.TFLiteConverter.from_concrete_functions([scores.get_concrete_function()]).convert())
    return path


@pytest.mark.parametrize("dynamic, said", [(False, "does not cover its 32x32 input pixel for pixel"),
                                           (True, "input size is not fixed")])
def test_teach_refuses_a_teacher_whose_output_does_not_cover_its_tile(tmp_path, capsys, dynamic, said):
    from training.teach import main

    teacher = _strided_teacher(tmp_path / "t.tflite", dynamic)
    _road_and_sky(tmp_path / "frames" / "a.png")
    assert main(["--teacher", str(teacher), "--data", str(tmp_path / "frames"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert said in err and not (tmp_path / "o").exists()


def test_teach_never_labels_its_own_outputs_skips_a_bad_image_and_names_a_broken_manifest(tmp_path, capsys):
    from training.teach import main

    teacher = _colour_teacher(tmp_path / "teacher.tflite", quantised=False)
    frames = tmp_path / "frames"
    _road_and_sky(frames / "a.png")
    (frames / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    arguments = ["--teacher", str(teacher), "--data", str(frames), "--out", str(frames / "labels")]
    for _ in range(3):
        assert main(arguments) == 0
    manifest = json.loads((frames / "labels" / "manifest.json").read_text())
    assert list(manifest["images"]) == ["frames/a"]  # never labels/..., never ..._agree_agree
    assert "skipped:" in capsys.readouterr().err
    (frames / "labels" / "manifest.json").write_text('{"settings": ')
    assert main(arguments) == 2
    assert "unreadable manifest" in capsys.readouterr().err


def test_the_teacher_can_be_kept_from_giving_a_class():
    from training.pseudo_labels import TeacherView, apply_teacher

    teacher = TeacherView(np.array([[4, 8]], np.uint8), np.array([[True, True]]))  # fence, vegetation
    codes = apply_teacher(np.full((1, 2), 255, np.uint8), teacher, {"fill"}, "kitti", frozenset({4}))
    assert codes.tolist() == [[255, SOFT_BASE + 8]]
