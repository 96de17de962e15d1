"""Full-size class IDs from coarse scores: the same answer as resizing every score plane
bilinearly (TensorFlow's resize) and taking the argmax, without doing that."""

from __future__ import annotations

import numpy as np
import pytest

from segviewer.core.score_upsampling import confidence_bytes, upsampled_argmax

tf = pytest.importorskip("tensorflow")


def _smooth_scores(height: int, width: int, seed: int) -> np.ndarray:
    """Scores with regions and boundaries like a network's, plus a little noise."""
    rng = np.random.default_rng(seed)
    blobs = rng.normal(size=(1, max(height // 4, 1), max(width // 4, 1), 19)).astype(np.float32)
    scores = tf.image.resize(blobs, (height, width), "bilinear").numpy()[0]
    return scores + rng.normal(scale=0.05, size=scores.shape).astype(np.float32)


@pytest.mark.parametrize(("coarse", "out"), [((96, 320), (375, 1242)), ((24, 32), (48, 64)),
                                              ((7, 9), (30, 17)), ((12, 16), (12, 40)), ((5, 5), (5, 5))])
def test_ids_equal_the_argmax_of_fully_resized_scores(coarse, out):
    scores = _smooth_scores(*coarse, seed=sum(out))
    resized = tf.image.resize(scores[None], out, "bilinear")[0].numpy()
    reference = resized.argmax(axis=-1)
    ids = upsampled_argmax(scores, out)
    assert ids.dtype == np.uint8 and ids.shape == out
    # Equal everywhere but at float-rounding ties (a pixel in 466,000 in the first case).
    ys, xs = np.nonzero(ids != reference)
    assert ys.size <= ids.size // 100_000
    assert np.allclose(resized[ys, xs, ids[ys, xs]], resized[ys, xs, reference[ys, xs]], atol=1e-5)


def test_confidence_is_resized_like_an_image():
    plane = np.random.default_rng(3).random((10, 14)).astype(np.float32)
    reference = tf.image.resize(plane[None, ..., None], (37, 29), "bilinear").numpy()[0, ..., 0]
    assert np.abs(confidence_bytes(plane, (37, 29)).astype(float) - reference * 255).max() <= 1.5
    full = confidence_bytes(np.ones((4, 4), np.float32), (9, 9))
    assert full.dtype == np.uint8 and (full == 255).all()


def test_noisy_scores_with_many_rival_classes_per_cell():
    """Pure noise: many quads where five or more classes can win, and ties decided as
    np.argmax decides them (towards the lower class)."""
    rng = np.random.default_rng(5)
    scores = rng.normal(size=(9, 13, 19)).astype(np.float32)
    scores[:3, :4] = 0.0                                   # exact ties everywhere there
    resized = tf.image.resize(scores[None], (41, 50), "bilinear")[0].numpy()
    ids = upsampled_argmax(scores, (41, 50))
    differ = ids != resized.argmax(axis=-1)
    assert differ.sum() <= 2
    assert (ids[:8, :10] == 0).all()                      # the tie region: class 0


def test_settling_quads_in_chunks_changes_no_pixel(monkeypatch):
    from segviewer.core import score_upsampling

    scores = _smooth_scores(48, 160, seed=11)
    whole = upsampled_argmax(scores, (187, 621))
    monkeypatch.setattr(score_upsampling, "QUADS_PER_CHUNK", 7)  # many chunks, ragged last one
    assert np.array_equal(upsampled_argmax(scores, (187, 621)), whole)
