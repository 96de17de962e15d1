"""Prediction / ground truth / error map / side by side: what the view shows of one image,
and where a point on that picture lies in the image (one geometry for composing and for
the hover read-out). Qt-free."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from segviewer.core.captions import draw_caption
from segviewer.core.overlay import (
    DISAGREEMENT_LEGEND,
    OverlayFrame,
    OverlayRenderer,
    disagreement_map,
    error_lut,
    error_map,
)
from segviewer.core.truth_space import TruthSpace, space_for

SIDE_BY_SIDE_GAP = 8
GAP_GREY = 40


class DisplayMode(enum.Enum):
    PREDICTION = "Prediction"
    TRUTH = "Ground truth"
    ERRORS = "Error map"
    SIDE_BY_SIDE = "Side by side"
    DISAGREEMENT = "A vs B"     # where two models differ, coloured by which one is right
    A_AND_B = "A | B"           # the two models' overlays side by side


# The displays drawn in their own colours, and the key the status bar gives for them
# (:data:`~segviewer.core.overlay.ERROR_LEGEND`, :data:`~segviewer.core.overlay.DISAGREEMENT_LEGEND`).
COLOUR_KEYS = {
    DisplayMode.ERRORS: "Error map: green = correct, red = wrong, grey = ignored (void)",
    DisplayMode.DISAGREEMENT: "A vs B: grey = agree, blue = only A right, orange = only B right, "
                              "red = both wrong, magenta = differ (no truth)",
}

@dataclass(frozen=True)
class ComparisonLayout:
    """Where the panes of a display sit, for an image of ``height`` x ``width``."""

    height: int
    width: int

    @property
    def stacked(self) -> bool:
        """Wide frames (KITTI is 3.3:1) compare better one above the other."""
        return self.width > 2 * self.height

    def to_image(self, x: int, y: int, display: DisplayMode) -> tuple[int, int] | None:
        """The image pixel under picture point (x, y), or None over the gap / outside.
        Side by side, the second pane (ground truth) shows the same pixels, offset."""
        if display in (DisplayMode.SIDE_BY_SIDE, DisplayMode.A_AND_B):
            if self.stacked and y >= self.height:
                y -= self.height + SIDE_BY_SIDE_GAP
            elif not self.stacked and x >= self.width:
                x -= self.width + SIDE_BY_SIDE_GAP
        if 0 <= x < self.width and 0 <= y < self.height:
            return x, y
        return None


class Comparison:
    """The frames one image can show: its prediction, and with ground truth also the truth
    and the error map. Composed through the shared :class:`OverlayRenderer` settings."""

    def __init__(self, renderer: OverlayRenderer, image: np.ndarray, mask: np.ndarray,
                 prediction: np.ndarray | None = None, truth: np.ndarray | None = None,
                 space: TruthSpace | None = None, prediction_b: np.ndarray | None = None,
                 names: tuple[str, str] = ("A", "B")) -> None:
        self.renderer = renderer
        self.layout = ComparisonLayout(*image.shape[:2])
        self.space = space or space_for(None)
        self.prediction_frame = renderer.set_frame(image, mask)
        self.truth_frame = OverlayFrame(self.prediction_frame.image, truth) if truth is not None else None
        # Judged in the truth's own classes: any member of a merged CamVid class is right.
        self.error_frame = (OverlayFrame(self.prediction_frame.image, error_map(
            self.space.native(prediction), self.space.native(truth), ignore=self.space.void))
                            if truth is not None and prediction is not None else None)
        self.names = names
        self.b_frame = self.disagreement_frame = None
        if prediction is not None and prediction_b is not None and prediction_b.shape == prediction.shape:
            self.b_frame = OverlayFrame(self.prediction_frame.image, prediction_b)
            native_truth = None if truth is None else self.space.native(truth)
            self.disagreement_frame = OverlayFrame(self.prediction_frame.image, disagreement_map(
                self.space.native(prediction), self.space.native(prediction_b), native_truth, self.space.void))

    def available(self) -> set[DisplayMode]:
        shown = {DisplayMode.PREDICTION}
        if self.truth_frame is not None:
            shown.add(DisplayMode.TRUTH)
        if self.error_frame is not None:
            shown |= {DisplayMode.ERRORS, DisplayMode.SIDE_BY_SIDE}
        if self.b_frame is not None:
            shown |= {DisplayMode.DISAGREEMENT, DisplayMode.A_AND_B}
        return shown

    def effective(self, wanted: DisplayMode) -> DisplayMode:
        """``wanted`` if this image can show it, else the prediction."""
        return wanted if wanted in self.available() else DisplayMode.PREDICTION

    def prediction_rgb(self) -> np.ndarray:
        """The prediction overlay with the current settings (what ``_overlay.png`` holds)."""
        return np.asarray(self.renderer.compose(self.prediction_frame))

    def compose(self, display: DisplayMode) -> np.ndarray:
        """The picture for ``display`` (falls back to the prediction when unavailable)."""
        display = self.effective(display)
        if display is DisplayMode.TRUTH:
            return np.asarray(self.renderer.compose(self.truth_frame))
        if display is DisplayMode.ERRORS:
            return np.asarray(self.error_frame.compose(error_lut(self.renderer.opacity)))
        if display is DisplayMode.DISAGREEMENT:
            return np.asarray(self.disagreement_frame.compose(error_lut(self.renderer.opacity, DISAGREEMENT_LEGEND)))
        left = self.prediction_rgb()
        if display not in (DisplayMode.SIDE_BY_SIDE, DisplayMode.A_AND_B):
            return left
        if display is DisplayMode.A_AND_B:
            left = draw_caption(left, f"A: {self.names[0]}")
            right = draw_caption(np.asarray(self.renderer.compose(self.b_frame)), f"B: {self.names[1]}")
        else:
            left = draw_caption(left, "Prediction")
            right = draw_caption(np.asarray(self.renderer.compose(self.truth_frame)), "Ground truth")
        if self.layout.stacked:
            gap = np.full((SIDE_BY_SIDE_GAP, left.shape[1], 3), GAP_GREY, np.uint8)
            return np.vstack([left, gap, right])
        gap = np.full((left.shape[0], SIDE_BY_SIDE_GAP, 3), GAP_GREY, np.uint8)
        return np.hstack([left, gap, right])
