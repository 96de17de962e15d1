"""Set labels for merged classes: the table, the CamVid mappings and the set-valued loss."""

from __future__ import annotations

import numpy as np
import pytest

from segviewer.core.classes import load_class_table
from segviewer.core.label_sets import (
    CAMVID11_TO_CODE,
    CAMVID32_TO_CODE,
    LABEL_SETS,
    NUM_LABEL_CODES,
    SOFT_BASE,
    camvid32_codes,
    membership_matrix,
    parse_camvid32_palette,
    soften,
)


def _ids(*names: str) -> set[int]:
    table = load_class_table()
    return {next(c.train_id for c in table.train_classes if c.name == n) for n in names}


def test_named_train_ids_match_the_class_table():
    assert LABEL_SETS[19] == tuple(sorted(_ids("car", "truck", "bus", "train")))
    assert set(LABEL_SETS[20]) == _ids("building", "wall")
    assert set(LABEL_SETS[23]) == _ids("rider", "motorcycle", "bicycle")
    assert set(LABEL_SETS[24]) == _ids("truck", "bus")


def test_membership_rows():
    matrix = membership_matrix()
    assert matrix.shape == (256, 19)
    assert (matrix[np.arange(19), np.arange(19)] == 1).all() and matrix[:19].sum() == 19
    for code, members in LABEL_SETS.items():
        assert set(np.flatnonzero(matrix[code])) == set(members)
    assert matrix[NUM_LABEL_CODES:SOFT_BASE].sum() == 0  # unused codes carry no loss
    assert (matrix[SOFT_BASE:SOFT_BASE + 19] == matrix[:19]).all()  # soft codes teach their class
    assert matrix[SOFT_BASE + 19:].sum() == 0  # nor does void


def test_soften_keeps_void_and_marks_the_rest_lower_trust():
    assert soften(np.array([0, 18, 255], np.uint8)).tolist() == [SOFT_BASE, SOFT_BASE + 18, 255]


def test_camvid11_merged_classes_become_sets():
    # Car, Building, Tree, SignSymbol, Bicyclist are merged; Road and Sky are exact.
    assert [CAMVID11_TO_CODE[v] for v in (8, 1, 5, 6, 10)] == [19, 20, 21, 22, 23]
    assert CAMVID11_TO_CODE[3] == 0 and CAMVID11_TO_CODE[0] == 10 and CAMVID11_TO_CODE[11] == 255


def test_camvid32_colours_map_to_codes():
    palette = parse_camvid32_palette("64 0 192\tCartLuggagePram\n192 128 192\tTruck_Bus\n"
                                     "64 192 0\tWall\n0 64 64\tTrafficLight\n")
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0, 0] = (192, 128, 192)  # Truck_Bus -> {truck, bus}
    rgb[0, 1] = (64, 192, 0)     # Wall -> wall
    rgb[0, 2] = (0, 64, 64)      # TrafficLight -> traffic light
    rgb[1, 0] = (64, 0, 192)     # CartLuggagePram -> void
    rgb[1, 1] = (1, 2, 3)        # not in the palette -> void
    codes = camvid32_codes(rgb, palette)
    assert codes[0].tolist() == [24, *_ids("wall"), *_ids("traffic light")]
    assert codes[1].tolist() == [255, 255, 255]


def test_every_camvid32_class_is_mapped():
    names = {"Animal", "Archway", "Bicyclist", "Bridge", "Building", "Car", "CartLuggagePram", "Child",
             "Column_Pole", "Fence", "LaneMkgsDriv", "LaneMkgsNonDriv", "Misc_Text", "MotorcycleScooter",
             "OtherMoving", "ParkingBlock", "Pedestrian", "Road", "RoadShoulder", "Sidewalk", "SignSymbol",
             "Sky", "SUVPickupTruck", "TrafficCone", "TrafficLight", "Train", "Tree", "Truck_Bus", "Tunnel",
             "VegetationMisc", "Void", "Wall"}
    assert set(CAMVID32_TO_CODE) == names


def test_set_loss_does_not_care_which_member_wins():
    """A pixel labelled {truck, bus} costs the same whether truck or bus has the mass,
    and a single-class pixel costs the ordinary cross-entropy."""
    tf = pytest.importorskip("tensorflow")
    from training.losses import SetCrossEntropy

    truck, bus, car = 14, 15, 13
    loss = SetCrossEntropy()
    labels = np.full((1, 1, 1), 24, np.uint8)  # {truck, bus}

    def logits_with(winner: int) -> np.ndarray:
        logits = np.zeros((1, 1, 1, 19), np.float32)
        logits[..., winner] = 4.0
        return logits

    as_truck = float(loss(labels, logits_with(truck)))
    as_bus = float(loss(labels, logits_with(bus)))
    as_car = float(loss(labels, logits_with(car)))
    assert abs(as_truck - as_bus) < 1e-6
    assert as_car > as_truck + 1.0  # mass outside the set is punished
    single = float(loss(np.full((1, 1, 1), truck, np.uint8), logits_with(bus)))
    expected = float(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[truck], logits=logits_with(bus)[0, 0])[0])
    assert abs(single - expected) < 1e-5
    void = float(loss(np.full((1, 1, 1), 255, np.uint8), logits_with(bus)))
    assert void == 0.0
