"""What a model card tells the legend about each class."""

from __future__ import annotations


def test_a_class_missing_from_the_validation_truth_has_no_figure():
    from segviewer.core.classes import load_class_table
    from segviewer.core.model_quality import validation_iou_by_class

    card = {"validation": {"kitti": {"per_class": {"road": 0.9, "bus": 0.0, "truck": 0.01},
                                     "truth_pixels": {"road": 1000, "bus": 0, "truck": 436}}}}
    quality = validation_iou_by_class(card, load_class_table())
    assert quality[0] == 0.9 and quality[15] is None and quality[14] == 0.01
