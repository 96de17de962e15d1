"""What a model card tells the legend about each class."""

from __future__ import annotations


def test_a_class_missing_from_the_validation_truth_keeps_the_cards_figure_but_is_not_unlearned():
    from segviewer.core.classes import load_class_table
    from segviewer.core.model_quality import validation_iou_by_class

    card = {"validation": {"kitti": {"per_class": {"road": 0.9, "bus": 0.0, "truck": 0.01},
                                     "truth_pixels": {"road": 1000, "bus": 0, "truck": 436}}}}
    quality = validation_iou_by_class(card, load_class_table())
    assert quality[0].iou == 0.9 and quality[14].iou == 0.01 and quality[14].unlearned
    # The card says 0.0 for bus (predicted where there is none): the same figure About shows,
    # but no sign that the model cannot see buses.
    assert quality[15].iou == 0.0 and not quality[15].in_validation and not quality[15].unlearned
