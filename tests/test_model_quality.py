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


def test_each_class_is_judged_on_the_validation_set_that_holds_most_of_it():
    from segviewer.core.classes import load_class_table
    from segviewer.core.model_quality import validation_iou_by_class

    card = {"validation": {
        "kitti": {"per_class": {"road": 0.9, "wall": 0.0, "truck": 0.01},
                  "truth_pixels": {"road": 1000, "wall": 84, "truck": 436}},
        "camvid": {"per_class": {"Fence": 0.7}, "truth_pixels": {"Fence": 5000}},  # 11 classes: never used
        "camvid32": {"per_class": {"road": 0.95, "wall": 0.687, "truck": 0.0},
                     "truth_pixels": {"road": 900, "wall": 41666, "truck": 0}}}}
    quality = validation_iou_by_class(card, load_class_table())
    wall, road, truck = quality[3], quality[0], quality[14]
    assert (wall.split, wall.iou, wall.truth_pixels, wall.unlearned) == ("camvid32", 0.687, 41666, False)
    assert "32-class labels" in wall.split_name
    assert (road.split, road.iou) == ("kitti", 0.9)       # KITTI holds more road here
    assert (truck.split, truck.unlearned) == ("kitti", True)


def test_the_shipped_card_marks_neither_rider_bicycle_wall_nor_fence_unlearned():
    """Issue 21: the legend's "(not learned)" must rest on the set with the evidence."""
    import json

    from segviewer.core.classes import load_class_table
    from segviewer.core.model_quality import validation_iou_by_class
    from segviewer.core.resources import default_model_path

    card = json.loads(default_model_path().with_suffix(".json").read_text())
    table = load_class_table()
    quality = validation_iou_by_class(card, table)
    train_id = {info.name: info.train_id for info in table.train_classes}
    for name in ("rider", "bicycle", "wall", "fence"):
        assert not quality[train_id[name]].unlearned, name


def test_about_shows_the_card_as_tables_and_never_drops_a_field():
    import json

    from segviewer.core.card_render import card_html
    from segviewer.core.resources import default_model_path

    card = json.loads(default_model_path().with_suffix(".json").read_text())
    text = card_html(card)
    assert "<h3>Model</h3>" in text and "<th align='left'>Licence</th>" in text
    assert "<th align='left'>Validation set</th>" in text
    assert f"{card['validation']['kitti']['miou'] * 100:.1f} %" in text
    odd = card_html({"validation": [1, 2], "note": "<b>x</b>", "training_data": "plain text"})
    assert "1, 2" in odd and "&lt;b&gt;x&lt;/b&gt;" in odd and "plain text" in odd
