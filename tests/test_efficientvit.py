"""EfficientViT-B0 in Keras: PyTorch's bicubic kernel, the teacher's weights against the
authors' reference logits, saving and loading, and distillation's loss and checkpoints."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

SHARED_TEACHERS = Path(__file__).resolve().parents[1].parent / "shared" / "teachers"
TEACHER_NPZ = SHARED_TEACHERS / "efficientvit_seg_b0_cityscapes.npz"
REFERENCE = SHARED_TEACHERS / "efficientvit_b0_reference"
REFERENCE_IMAGE = (SHARED_TEACHERS.parent / "datasets" / "cityscapes_samples" / "leftImg8bit" / "train" / "aachen"
                   / "aachen_000000_000019_leftImg8bit.png")


def _torch_bicubic_1d(values: np.ndarray, factor: int) -> np.ndarray:
    """PyTorch's bicubic rule written out pixel by pixel along axis 0 (the test's own
    reference): a = -0.75, source = (i + 0.5) / factor - 0.5, clamped taps."""
    def kernel(x: float) -> float:
        x, a = abs(x), -0.75
        if x <= 1:
            return ((a + 2) * x - (a + 3)) * x * x + 1
        if x < 2:
            return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
        return 0.0

    size = values.shape[0]
    out = np.zeros((size * factor, *values.shape[1:]), np.float64)
    for i in range(size * factor):
        source = (i + 0.5) / factor - 0.5
        base = math.floor(source)
        for tap in range(base - 1, base + 3):
            out[i] += kernel(source - tap) * values[min(max(tap, 0), size - 1)]
    return out


@pytest.mark.parametrize("factor", [2, 4])
def test_bicubic_upsampling_is_pytorchs(factor):
    from segviewer.models.layers import BicubicUpsample

    values = np.random.default_rng(factor).normal(size=(1, 5, 7, 3)).astype(np.float32)
    expected = _torch_bicubic_1d(values[0], factor)
    expected = _torch_bicubic_1d(expected.transpose(1, 0, 2), factor).transpose(1, 0, 2)
    got = BicubicUpsample(factor)(values).numpy()[0]
    assert got.shape == (5 * factor, 7 * factor, 3)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_a_random_teacher_network_runs_at_any_stride_32_size_and_survives_saving(tmp_path):
    import keras

    import segviewer.models.layers  # noqa: F401
    from segviewer.models.efficientvit import build_efficientvit_seg, build_efficientvit_unet

    image = np.random.default_rng(0).integers(0, 256, (1, 64, 96, 3), dtype=np.uint8)
    for build in (build_efficientvit_seg, build_efficientvit_unet):
        model = build()
        logits = model(image).numpy()
        assert logits.shape == (1, 64, 96, 19) and np.isfinite(logits).all()
        model.save(tmp_path / "m.keras")
        again = keras.saving.load_model(tmp_path / "m.keras", compile=False)
        np.testing.assert_allclose(again(image).numpy(), logits, atol=1e-5)


def test_a_weight_file_that_lacks_a_tensor_is_named():
    from segviewer.models.efficientvit import build_efficientvit_seg, load_efficientvit_weights

    with pytest.raises(KeyError, match="backbone.input_stem.op_list.0.conv.weight"):
        load_efficientvit_weights(build_efficientvit_seg(), {})


@pytest.mark.skipif(not TEACHER_NPZ.is_file() or not REFERENCE_IMAGE.is_file(), reason="../shared is absent")
def test_the_teacher_matches_the_authors_reference_logits():
    import keras
    from PIL import Image

    from segviewer.models.efficientvit import build_efficientvit_seg, load_efficientvit_weights

    model = build_efficientvit_seg()
    assert load_efficientvit_weights(model, TEACHER_NPZ) == 198
    stride8 = keras.Model(model.inputs, model.get_layer("head.output_ops.0.op_list.1.conv").output)
    image = np.asarray(Image.open(REFERENCE_IMAGE).convert("RGB"))
    logits = stride8(image[None]).numpy()[0].transpose(2, 0, 1)
    reference = np.load(REFERENCE / "reference_logits_aachen_000000_000019.npy")
    assert np.abs(logits - reference).max() < 1e-3
    argmax = np.asarray(Image.open(REFERENCE / "reference_argmax_aachen_000000_000019.png"))
    assert (logits.argmax(0) == argmax).mean() > 0.999


def test_distillation_loss_is_zero_for_the_teachers_own_answer_and_positive_otherwise():
    import tensorflow as tf

    from training.distill import kl_to_teacher

    logits = tf.random.normal([2, 4, 4, 19], seed=1)
    assert abs(float(kl_to_teacher(logits, logits))) < 1e-6
    assert float(kl_to_teacher(logits, tf.zeros_like(logits))) > 0.01


def test_a_distilled_step_trains_the_student_and_saves_it_alone(tmp_path):
    import keras

    import segviewer.models.layers  # noqa: F401
    from segviewer.models.efficientvit import build_efficientvit_seg, build_efficientvit_unet
    from training.distill import Distiller, StudentCheckpoint
    from training.losses import MaskedMeanIoU, SetCrossEntropy

    student = build_efficientvit_unet()
    model = Distiller(student, build_efficientvit_seg(name="teacher"), weight=1.0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=SetCrossEntropy(), metrics=[MaskedMeanIoU()])
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    labels = rng.integers(0, 19, (2, 64, 64), dtype=np.uint8)
    before = [w.copy() for w in student.get_weights()]
    model.fit(images, labels, epochs=1, batch_size=2, verbose=0,
              callbacks=[StudentCheckpoint(tmp_path / "last.keras")])
    assert any(not np.array_equal(a, b) for a, b in zip(before, student.get_weights()))
    saved = keras.saving.load_model(tmp_path / "last.keras", compile=False)
    assert saved.name == student.name  # the student, not the wrapper with its teacher
    np.testing.assert_allclose(saved(images).numpy(), student(images).numpy(), atol=1e-5)


def test_distillation_can_leave_human_labelled_pixels_to_the_human_label():
    import tensorflow as tf

    from training.distill import kl_to_teacher

    teacher, student = tf.random.normal([1, 2, 2, 19], seed=2), tf.random.normal([1, 2, 2, 19], seed=3)
    everywhere = float(kl_to_teacher(teacher, student))
    only_first = float(kl_to_teacher(teacher, student, pixel_weights=tf.constant([[[1.0, 0.0], [0.0, 0.0]]])))
    assert 0 < only_first < everywhere


def test_the_stage6_candidate_opens_at_its_cards_scale_and_its_twin_agrees():
    """The EfficientViT candidate that ships beside the default model: LiteRT and
    TensorFlow give the same classes, at the working scale its card names."""
    from segviewer.core.inference import Segmenter
    from segviewer.core.resources import resource_path
    from tests.conftest import tricolour_image

    model = resource_path("models", "segviewer_evit_candidate.keras")
    lite, tf_run = Segmenter.load(model, backend="litert"), Segmenter.load(model, backend="tf")
    assert lite.backend_description.startswith("LiteRT") and lite.pixel_budget == 737280
    image = tricolour_image(375, 1242)
    a, b = lite.predict(image), tf_run.predict(image)
    assert a.working_size == (480, 1568) and a.train_ids.shape == (375, 1242)
    assert (a.train_ids == b.train_ids).mean() > 0.99


@pytest.mark.skipif(not TEACHER_NPZ.is_file(), reason="../shared is absent")
def test_the_teachers_tile_for_teach_computes_what_the_keras_teacher_does(tmp_path):
    """The fixed-tile .tflite holds the weights as constants (a concrete-function export
    once left them uninitialised: NaN labels)."""
    from ai_edge_litert.interpreter import Interpreter

    from training.models import build_teacher
    from training.teacher import export_tile

    tile = export_tile(TEACHER_NPZ, tmp_path / "t.tflite", (64, 128))
    interpreter = Interpreter(model_path=str(tile))
    interpreter.allocate_tensors()
    pixels = np.random.default_rng(0).integers(0, 256, (1, 64, 128, 3), dtype=np.uint8)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], pixels)
    interpreter.invoke()
    scores = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    expected = build_teacher(TEACHER_NPZ)(pixels).numpy()
    assert np.isfinite(scores).all() and np.abs(scores - expected).max() < 1e-2
