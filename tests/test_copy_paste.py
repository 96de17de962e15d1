"""Copy-paste of rare objects: instances found whole, pasted with their own labels."""

from __future__ import annotations

import numpy as np
import pytest

from segviewer.core.classes import VOID_TRAIN_ID
from segviewer.core.label_sets import BICYCLE, BUS, CAR, RIDER, ROAD, TRUCK
from training.copy_paste import InstanceBank, find_instances, paste


def _scene(height: int = 120, width: int = 400) -> tuple[np.ndarray, np.ndarray]:
    label = np.full((height, width), ROAD, np.uint8)
    label[60:100, 20:80] = TRUCK                     # a truck on the left
    label[70:100, 300:316] = RIDER                   # a cyclist on the right: rider ...
    label[90:110, 296:320] = BICYCLE                 # ... over a bicycle
    label[50:100, 150:230] = CAR                     # a car: not rare, never an instance
    label[5:8, 390:393] = BUS                        # 9 pixels of bus: too small
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 0] = label * 10                       # pixel colours tell the classes apart
    return image, label


def test_instances_are_whole_objects_of_rare_groups():
    image, label = _scene()
    instances = sorted(find_instances(image, label), key=lambda i: i.main_code)
    assert [i.main_code for i in instances] == [TRUCK, BICYCLE]  # most frequent code
    truck, cyclist = instances
    assert set(np.unique(cyclist.label)) == {RIDER, BICYCLE, VOID_TRAIN_ID}  # rider keeps the bicycle
    assert cyclist.label.shape == (40, 24)
    assert truck.label.shape == (40, 60) and (truck.label == TRUCK).all()
    assert truck.bottom_margin == pytest.approx(20 / 120)


def test_pasted_pixels_carry_their_own_labels_and_nothing_else_changes():
    image, label = _scene()
    cyclist = next(i for i in find_instances(image, label) if i.main_code == BICYCLE)
    target_image = np.full((240, 800, 3), 7, np.uint8)  # twice the size: the object doubles
    target_label = np.full((240, 800), ROAD, np.uint8)
    pasted = paste(target_image, target_label, cyclist, np.random.default_rng(3))
    assert pasted is not None
    new_image, new_label, (row, col) = pasted
    assert (target_label == ROAD).all()               # the inputs are untouched
    changed = new_label != ROAD
    assert new_label[row, col] in (RIDER, BICYCLE)
    assert set(np.unique(new_label[changed])) == {RIDER, BICYCLE}
    # Each label's pixels came with that label (red channel = label * 10; bilinear
    # scaling blends colours only along the edges).
    for code in (RIDER, BICYCLE):
        assert np.median(new_image[..., 0][new_label == code]) == code * 10
    assert (new_image[~changed] == 7).all()
    rows = np.flatnonzero(changed.any(axis=1))
    assert 0.8 * 80 <= rows[-1] - rows[0] + 1 <= 1.25 * 80  # 40 px tall, scaled 2 x (0.8-1.25)
    assert abs((240 - rows[-1] - 1) / 240 - 10 / 120) < 0.01  # still standing on the road


def test_the_bank_draws_every_code_equally_often():
    image, label = _scene()
    bank = InstanceBank(find_instances(image, label) * 1 + [find_instances(image, label)[0]] * 9)
    rng = np.random.default_rng(0)
    drawn = [bank.draw(rng).main_code for _ in range(2000)]
    assert abs(drawn.count(TRUCK) / 2000 - 0.5) < 0.05


def test_pasted_objects_reach_the_training_crops():
    pytest.importorskip("tensorflow")
    from training.data import LoadedSample, instance_bank, training_dataset

    image, label = _scene()
    empty = LoadedSample(np.zeros((120, 400, 3), np.uint8), np.full((120, 400), ROAD, np.uint8), "kitti")
    bank = instance_bank([LoadedSample(image, label, "kitti")])
    batches = training_dataset([empty], {"kitti": 1}, batch_size=4, crop=(48, 96), bank=bank,
                               paste_probability=1.0, focus_probability=1.0)
    _, labels = next(iter(batches))
    seen = np.isin(labels.numpy(), [TRUCK, RIDER, BICYCLE]).any(axis=(1, 2))
    assert seen.sum() >= 3  # crops centred on the pasted object; random 48x96 crops rarely are

