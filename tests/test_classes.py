import numpy as np
import pytest

from segviewer.core.classes import VOID_TRAIN_ID, load_class_table


def test_table_has_19_train_classes_plus_void_in_order():
    table = load_class_table()
    assert [c.train_id for c in table] == list(range(19)) + [VOID_TRAIN_ID]
    assert table.by_train_id(0).name == "road"
    assert table.by_train_id(0).color == (128, 64, 128)
    assert table.by_train_id(VOID_TRAIN_ID).name == "unlabeled"


def test_void_label_ids_are_the_documented_set():
    void = load_class_table().by_train_id(VOID_TRAIN_ID)
    assert set(void.label_ids) == {0, 1, 2, 3, 4, 5, 6, 9, 10, 14, 15, 16, 18, 29, 30}


def test_matches_cityscapesscripts_labels_exactly():
    labels = pytest.importorskip("cityscapesscripts.helpers.labels").labels
    table = load_class_table()
    for label in labels:
        if label.id < 0:
            continue  # license plate: not in label-ID images
        expected_train = VOID_TRAIN_ID if label.trainId in (255, -1) else label.trainId
        assert table.label_to_train[label.id] == expected_train, label.name
        if expected_train != VOID_TRAIN_ID:
            info = table.by_train_id(expected_train)
            assert info.color == label.color, label.name
            assert info.name == label.name
            assert table.train_to_label[expected_train] == label.id


def test_lookup_arrays_are_read_only_and_round_trip():
    table = load_class_table()
    with pytest.raises(ValueError):
        table.label_to_train[0] = 3
    train_ids = np.array([[0, 1, 18, 255]], np.uint8)
    labels = table.train_ids_to_labels(train_ids)
    assert labels.tolist() == [[7, 8, 33, 0]]
    assert table.labels_to_train_ids(labels).tolist() == train_ids.tolist()
    assert table.colorize(train_ids)[0, 3].tolist() == [0, 0, 0]


def test_one_working_scale_serves_every_camera():
    """A full-size Cityscapes frame (2048x1024) reaches the network at the same size as the
    half-size frames training saw (1024x512): no flag needed for either. KITTI and CamVid
    keep the sizes the model was trained at (docs/model_quality.md, stage 5)."""
    from segviewer.core.inference import working_size

    assert working_size(1024, 2048) == working_size(512, 1024) == (256, 480)
    assert working_size(375, 1242) == (192, 640) and working_size(360, 480) == (288, 416)
