"""Set-valued training labels: one table of the merged classes other datasets use.

CamVid merges Cityscapes classes (its "Car" is car, truck, bus or train). Mapping such a
label onto one member would teach the network that every truck is "not truck". Instead a
merged class becomes a *set label*: a code above the 19 train IDs whose pixels mean "one
of these classes". The training loss for such a pixel is ``-log(sum of the softmax over
the set)`` (see ``training.losses``), so the network is never pushed away from any member.
A set with one member is an ordinary label; 255 stays void.

Codes (uint8, stored in the training masks):

========  ==============================  ==========================================
code      members (train classes)         where it comes from
========  ==============================  ==========================================
0-18      the class itself                KITTI, and the unambiguous CamVid classes
19        car, truck, bus, train          CamVid 11 "Car"
20        building, wall                  CamVid 11 "Building"
21        vegetation, terrain             CamVid 11 "Tree", CamVid 32 "VegetationMisc"
22        traffic light, traffic sign     CamVid 11 "SignSymbol"
23        rider, motorcycle, bicycle      CamVid 11 "Bicyclist"
24        truck, bus                      CamVid 32 "Truck_Bus"
25        rider, bicycle                  CamVid 32 "Bicyclist"
26        rider, motorcycle               CamVid 32 "MotorcycleScooter"
27        car, truck                      CamVid 32 "SUVPickupTruck"
28        road, sidewalk, terrain         CamVid 32 "RoadShoulder"
128-146   train ID ``code - 128``,        lower-trust labels: a teacher network's, or
          at a lower loss weight          a machine-made set such as gtCoarse
255       void (no loss)                  everything else
========  ==============================  ==========================================

The CamVid 32-class mapping (:data:`CAMVID32_TO_CODE`) keeps classes Cityscapes treats
as void (Animal, Archway, Bridge, Tunnel, CartLuggagePram, OtherMoving, TrafficCone,
ParkingBlock, Misc_Text) void, and follows the 11-class merge for lane markings (road).
"""

from __future__ import annotations

import numpy as np

from segviewer.core.classes import NUM_TRAIN_CLASSES, VOID_TRAIN_ID

# Train IDs by name, in the order of resources/classes.json (checked by a test).
ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE, TRAFFIC_LIGHT, TRAFFIC_SIGN = range(8)
VEGETATION, TERRAIN, SKY, PERSON, RIDER, CAR, TRUCK, BUS, TRAIN, MOTORCYCLE, BICYCLE = range(8, 19)

# Set code -> member train IDs; codes follow the 19 train IDs.
LABEL_SETS: dict[int, tuple[int, ...]] = {
    19: (CAR, TRUCK, BUS, TRAIN),
    20: (BUILDING, WALL),
    21: (VEGETATION, TERRAIN),
    22: (TRAFFIC_LIGHT, TRAFFIC_SIGN),
    23: (RIDER, MOTORCYCLE, BICYCLE),
    24: (TRUCK, BUS),
    25: (RIDER, BICYCLE),
    26: (RIDER, MOTORCYCLE),
    27: (CAR, TRUCK),
    28: (ROAD, SIDEWALK, TERRAIN),
}
NUM_LABEL_CODES = NUM_TRAIN_CLASSES + len(LABEL_SETS)
# Lower-trust ("soft") labels: ``SOFT_BASE + train ID``. They teach like the train ID,
# with the loss weight training gives them (``--soft-weight``).
SOFT_BASE = 128


def soften(train_ids: np.ndarray) -> np.ndarray:
    """Train IDs (255 void) as soft codes; void stays void."""
    train_ids = np.asarray(train_ids, np.uint8)
    return np.where(train_ids < NUM_TRAIN_CLASSES, train_ids + SOFT_BASE, VOID_TRAIN_ID).astype(np.uint8)


def membership_matrix() -> np.ndarray:
    """``float32[256, 19]``: row ``code`` is 1 for each train class the code allows.

    Void (255) and unused codes have an all-zero row: such pixels carry no loss.
    """
    matrix = np.zeros((256, NUM_TRAIN_CLASSES), np.float32)
    matrix[np.arange(NUM_TRAIN_CLASSES), np.arange(NUM_TRAIN_CLASSES)] = 1.0
    for code, members in LABEL_SETS.items():
        matrix[code, list(members)] = 1.0
    matrix[SOFT_BASE + np.arange(NUM_TRAIN_CLASSES), np.arange(NUM_TRAIN_CLASSES)] = 1.0
    return matrix


# CamVid 11-class value -> code. 0 Sky, 1 Building, 2 Pole, 3 Road, 4 Pavement, 5 Tree,
# 6 SignSymbol, 7 Fence, 8 Car, 9 Pedestrian, 10 Bicyclist, 11 Unlabelled.
CAMVID11_TO_CODE = np.full(256, VOID_TRAIN_ID, np.uint8)
CAMVID11_TO_CODE[:11] = [SKY, 20, POLE, ROAD, SIDEWALK, 21, 22, FENCE, 19, PERSON, 23]

# CamVid 32-class name -> code (names as in camvid/label_colors32.txt).
CAMVID32_TO_CODE: dict[str, int] = {
    "Bicyclist": 25, "Building": BUILDING, "Car": CAR, "Child": PERSON,
    "Column_Pole": POLE, "Fence": FENCE, "LaneMkgsDriv": ROAD, "LaneMkgsNonDriv": ROAD,
    "MotorcycleScooter": 26, "Pedestrian": PERSON, "Road": ROAD, "RoadShoulder": 28,
    "Sidewalk": SIDEWALK, "SignSymbol": TRAFFIC_SIGN, "Sky": SKY, "SUVPickupTruck": 27,
    "TrafficLight": TRAFFIC_LIGHT, "Train": TRAIN, "Tree": VEGETATION, "Truck_Bus": 24,
    "VegetationMisc": 21, "Wall": WALL,
    # Void in Cityscapes (or no Cityscapes class): no loss.
    "Animal": VOID_TRAIN_ID, "Archway": VOID_TRAIN_ID, "Bridge": VOID_TRAIN_ID,
    "CartLuggagePram": VOID_TRAIN_ID, "Misc_Text": VOID_TRAIN_ID, "OtherMoving": VOID_TRAIN_ID,
    "ParkingBlock": VOID_TRAIN_ID, "TrafficCone": VOID_TRAIN_ID, "Tunnel": VOID_TRAIN_ID,
    "Void": VOID_TRAIN_ID,
}


def parse_camvid32_palette(text: str) -> dict[tuple[int, int, int], str]:
    """``label_colors32.txt`` ("R G B<TAB>name" per line) as colour -> name."""
    palette = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        rgb, name = line.split("\t", 1) if "\t" in line else line.rsplit(None, 1)
        r, g, b = (int(v) for v in rgb.split())
        palette[(r, g, b)] = name.strip()
    return palette


def camvid32_codes(rgb: np.ndarray, palette: dict[tuple[int, int, int], str]) -> np.ndarray:
    """A 32-class CamVid colour label (uint8 H x W x 3) as training codes; colours not in
    the palette are void."""
    lookup = {(r << 16) | (g << 8) | b: CAMVID32_TO_CODE.get(name, VOID_TRAIN_ID)
              for (r, g, b), name in palette.items()}
    keys = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2]
    unique, inverse = np.unique(keys, return_inverse=True)
    values = np.array([lookup.get(int(k), VOID_TRAIN_ID) for k in unique], np.uint8)
    return values[inverse].reshape(keys.shape)
