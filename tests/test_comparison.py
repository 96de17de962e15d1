"""The comparison geometry and the renderer's change events (Qt-free)."""

from __future__ import annotations

import numpy as np

from segviewer.core.comparison import SIDE_BY_SIDE_GAP, Comparison, ComparisonLayout, DisplayMode
from segviewer.core.overlay import OverlayMode, OverlayRenderer
from tests.conftest import tricolour_image


def test_wide_frames_stack_and_points_map_back():
    wide = ComparisonLayout(30, 120)
    assert wide.stacked
    assert wide.to_image(3, 30 + SIDE_BY_SIDE_GAP + 25, DisplayMode.SIDE_BY_SIDE) == (3, 25)
    assert wide.to_image(3, 31, DisplayMode.SIDE_BY_SIDE) is None  # on the gap
    assert wide.to_image(3, 31, DisplayMode.PREDICTION) is None    # below the image
    square = ComparisonLayout(60, 90)
    assert not square.stacked
    assert square.to_image(90 + SIDE_BY_SIDE_GAP + 70, 55, DisplayMode.SIDE_BY_SIDE) == (70, 55)
    assert square.to_image(70, 55, DisplayMode.ERRORS) == (70, 55)


def test_composed_sizes_follow_the_layout_and_fallbacks():
    renderer = OverlayRenderer()
    image = tricolour_image(30, 120)
    prediction = np.zeros((30, 120), np.uint8)
    truth = np.full((30, 120), 13, np.uint8)
    both = Comparison(renderer, image, prediction, prediction, truth)
    assert both.available() == set(DisplayMode) - {DisplayMode.DISAGREEMENT, DisplayMode.A_AND_B}
    assert both.compose(DisplayMode.SIDE_BY_SIDE).shape == (2 * 30 + SIDE_BY_SIDE_GAP, 120, 3)
    with_b = Comparison(renderer, image, prediction, prediction, truth, prediction_b=prediction + 1)
    assert with_b.available() == set(DisplayMode)
    assert with_b.compose(DisplayMode.A_AND_B).shape == (2 * 30 + SIDE_BY_SIDE_GAP, 120, 3)
    alone = Comparison(renderer, image, prediction, prediction, None)
    assert alone.available() == {DisplayMode.PREDICTION}
    assert alone.effective(DisplayMode.ERRORS) is DisplayMode.PREDICTION
    assert (alone.compose(DisplayMode.SIDE_BY_SIDE) == alone.prediction_rgb()).all()


def test_renderer_announces_each_real_change_once():
    renderer = OverlayRenderer()
    events = []
    renderer.subscribe(lambda: events.append(1))
    renderer.set_opacity(0.5)        # unchanged: no event
    renderer.set_mode(OverlayMode.FILL)
    renderer.show_all()
    assert events == []
    renderer.solo(13)
    renderer.set_opacity(0.8)
    renderer.set_mode(OverlayMode.CONTOUR)
    renderer.set_visible(13, False)
    assert len(events) == 4


def test_renderer_copy_has_the_settings_but_not_the_listeners():
    renderer = OverlayRenderer()
    renderer.subscribe(lambda: (_ for _ in ()).throw(AssertionError("copy must not notify")))
    events = []
    renderer._listeners.clear()
    renderer.subscribe(lambda: events.append(1))
    renderer.set_opacity(0.3)
    renderer.solo(2)
    copy = renderer.copy()
    assert copy.opacity == 0.3 and copy.visible_ids() == {2} and copy.mode is renderer.mode
    copy.show_all()
    assert renderer.visible_ids() == {2} and len(events) == 2


def test_disagreement_says_which_model_the_truth_backs():
    from segviewer.core.overlay import AGREE, BOTH_WRONG, DIFFER, ONLY_A_RIGHT, ONLY_B_RIGHT, disagreement_map

    a = np.array([[1, 1, 2, 3, 5]], np.uint8)
    b = np.array([[1, 2, 1, 4, 6]], np.uint8)
    truth = np.array([[1, 1, 1, 5, 255]], np.uint8)
    assert disagreement_map(a, b, truth).tolist() == [[AGREE, ONLY_A_RIGHT, ONLY_B_RIGHT, BOTH_WRONG, DIFFER]]
    assert disagreement_map(a, b).tolist() == [[AGREE, DIFFER, DIFFER, DIFFER, DIFFER]]
