
import numpy as np
import pytest

from segviewer.core.classes import TRANSPARENT_INDEX
from segviewer.core.overlay import (
    OverlayMode,
    OverlayRenderer,
    class_boundaries,
    compose_overlay,
)

ROAD_COLOUR = np.array([128, 64, 128])


@pytest.fixture
def renderer(road_image, banded_mask):
    r = OverlayRenderer()
    r.set_frame(road_image, banded_mask)
    return r


def test_half_opacity_blends_exactly(renderer, road_image):
    renderer.set_opacity(0.5)
    out = np.asarray(renderer.compose()).astype(int)
    expected = (road_image[-1, 0].astype(int) * (255 - 128) + ROAD_COLOUR * 128) / 255
    assert np.all(np.abs(out[-1, 0] - expected) <= 1)


def test_opacity_zero_is_image_and_one_is_mask(renderer, road_image, banded_mask):
    renderer.set_opacity(0.0)
    assert np.array_equal(np.asarray(renderer.compose()), road_image)
    renderer.set_opacity(1.0)
    out = np.asarray(renderer.compose())
    assert np.array_equal(out, renderer.table.colorize(banded_mask))


def test_hidden_class_shows_plain_image(renderer, road_image, banded_mask):
    renderer.set_opacity(1.0)
    renderer.set_visible(0, False)
    out = np.asarray(renderer.compose())
    road = banded_mask == 0
    assert np.array_equal(out[road], road_image[road])
    assert np.array_equal(out[~road], renderer.table.colorize(banded_mask)[~road])


def test_solo_all_none_invert(renderer):
    renderer.solo(13)
    assert renderer.visible_ids() == {13}
    renderer.invert()
    assert 13 not in renderer.visible_ids() and len(renderer.visible_ids()) == 19
    renderer.hide_all()
    assert renderer.visible_ids() == set()
    renderer.show_all()
    assert len(renderer.visible_ids()) == 20


def test_lut_is_rebuilt_only_on_change(renderer):
    first = renderer.lut
    assert renderer.lut is first
    renderer.set_visible(2, False)
    assert renderer.lut is not first and renderer.lut[2, 3] == 0


def test_modes(renderer, road_image, banded_mask):
    renderer.set_mode(OverlayMode.IMAGE_ONLY)
    assert np.array_equal(np.asarray(renderer.compose()), road_image)
    renderer.set_mode(OverlayMode.MASK_ONLY)
    assert np.array_equal(np.asarray(renderer.compose()), renderer.table.colorize(banded_mask))
    renderer.set_mode(OverlayMode.CONTOUR)
    renderer.set_opacity(1.0)
    out = np.asarray(renderer.compose())
    assert np.array_equal(out[5, 5], road_image[5, 5])  # inside the sky band: untouched
    assert out[15, 5].tolist() == [70, 130, 180]  # sky's last row touches building


def test_class_boundaries():
    mask = np.array([[1, 1, 2], [1, 1, 2], [1, 1, 1]], np.uint8)
    edges = class_boundaries(mask)
    assert edges[0, 0] == TRANSPARENT_INDEX
    assert edges[0, 1] == 1 and edges[0, 2] == 2


def test_fractions_and_shape_check(renderer, banded_mask):
    fractions = renderer.class_fractions()
    assert fractions[13] == pytest.approx((banded_mask == 13).mean())
    assert sum(fractions.values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="does not match"):
        renderer.set_frame(np.zeros((4, 4, 3), np.uint8), banded_mask)


def test_settings_persist_across_frames(renderer, road_image, banded_mask):
    renderer.set_visible(10, False)
    renderer.set_frame(road_image[::2, ::2].copy(), banded_mask[::2, ::2].copy())
    assert not renderer.is_visible(10)


def test_compose_overlay_helper(road_image, banded_mask):
    out = compose_overlay(road_image, banded_mask, opacity=1.0, visible={10})
    assert out[0, 0].tolist() == [70, 130, 180]
    assert np.array_equal(out[-1, 0], road_image[-1, 0])


def test_big_frames_compose_in_strips_identically(monkeypatch):
    from segviewer.core import overlay

    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (301, 157, 3), dtype=np.uint8)
    mask = rng.integers(0, 19, (301, 157), dtype=np.uint8)
    single = compose_overlay(image, mask, opacity=0.6, mode=OverlayMode.CONTOUR)
    monkeypatch.setattr(overlay, "PARALLEL_PIXELS", 1)
    monkeypatch.setattr(overlay.os, "cpu_count", lambda: 3)
    renderer = OverlayRenderer()
    renderer.set_opacity(0.6)
    renderer.set_mode(OverlayMode.CONTOUR)
    frame = renderer.set_frame(image, mask)
    assert len(frame.strips) == 3
    assert np.array_equal(np.asarray(renderer.compose()), single)
