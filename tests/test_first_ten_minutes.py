"""Issue 23's command-line traps: honest counts after Ctrl-C, and unwritable output folders
found before any work."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from segviewer.cli import main as cli_main
from tests.conftest import tricolour_image


def _images(folder, count: int):
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        Image.fromarray(tricolour_image(seed=index)).save(folder / f"{index:06d}_10.png")
    return folder


def test_ctrl_c_between_two_files_of_an_image_counts_every_file_on_disk(tmp_path, tiny_model_path, monkeypatch,
                                                                      capsys):
    import segviewer.commands.predict_images as predict

    calls = []

    def overlay_then_interrupt(image, train_ids, opacity):
        calls.append(1)
        if len(calls) == 2:  # the second image: its label IDs and colour files are already written
            raise KeyboardInterrupt
        return np.zeros((*train_ids.shape, 3), np.uint8)

    monkeypatch.setattr(predict, "compose_overlay", overlay_then_interrupt)
    out = tmp_path / "out"
    status = cli_main(["predict", str(_images(tmp_path / "in", 3)), "--out", str(out), "--model",
                       str(tiny_model_path), "--format", "labelids,color,overlay"])
    err = capsys.readouterr().err
    on_disk = [p for p in out.iterdir() if not p.name.startswith(".")]
    # Image 1's three files, image 2's first two; the images already past the network when
    # the stop came (the pipeline holds at most two) finish theirs. Every file on disk is
    # complete, and counted.
    assert status == 130 and {p.name for p in on_disk} >= {"000000_10_overlay.png", "000001_10_labelIds.png",
                                                           "000001_10_color.png"}
    assert "000001_10_overlay.png" not in {p.name for p in on_disk} and not list(out.glob(".*"))
    assert f"{len(on_disk)} complete file(s) written" in err


def test_an_output_folder_that_cannot_be_made_is_refused_before_the_model_loads(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    status = cli_main(["predict", str(_images(tmp_path / "in", 2)), "--out", str(blocker / "out"),
                       "--model", str(tmp_path / "never-loaded.keras")])
    err = capsys.readouterr().err
    assert status == 1 and "cannot write there" in err and "nothing was segmented" in err
    assert "never-loaded" not in err  # refused before the model was even looked at


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder_is_refused_before_any_image(tmp_path, tiny_model_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        status = cli_main(["predict", str(_images(tmp_path / "in", 2)), "--out", str(out),
                           "--model", str(tiny_model_path)])
    finally:
        out.chmod(0o755)
    err = capsys.readouterr().err
    assert status == 1 and "permission denied" in err and err.count("error:") == 1
