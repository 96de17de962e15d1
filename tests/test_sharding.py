"""``predict --shard K/N``: every input in exactly one shard; the shards' outputs together
equal one unsharded run."""

from __future__ import annotations

import pytest
from PIL import Image

from segviewer.cli import main as cli_main
from segviewer.core.sharding import Shard
from tests.conftest import tricolour_image


def test_shards_partition_the_inputs():
    keys = [f"frames/{index:06d}.png" for index in range(1000)]
    owners = [[k for k in keys if Shard(i, 4).owns(k)] for i in range(4)]
    assert sorted(sum(owners, [])) == sorted(keys)
    assert all(150 < len(part) < 350 for part in owners)  # roughly even
    assert Shard(0, 1).owns("anything")


@pytest.mark.parametrize("text", ["4/4", "-1/3", "a/b", "3", "0/0"])
def test_bad_shard_arguments_are_refused(text):
    with pytest.raises(ValueError):
        Shard.parse(text)


def test_sharded_predict_equals_one_unsharded_run(tmp_path, tiny_model_path, capsys):
    folder = tmp_path / "frames"
    folder.mkdir()
    for index in range(12):
        Image.fromarray(tricolour_image(seed=index)).save(folder / f"{index:06d}.png")
    common = [str(folder), "--model", str(tiny_model_path), "--format", "labelIds,color"]
    assert cli_main(["predict", *common, "--out", str(tmp_path / "whole")]) == 0
    for index in range(3):
        assert cli_main(["predict", *common, "--out", str(tmp_path / "sharded"), "--shard", f"{index}/3"]) == 0
    assert "shard 2/3:" in capsys.readouterr().err
    whole = {p.name: p.read_bytes() for p in (tmp_path / "whole").iterdir()}
    sharded = {p.name: p.read_bytes() for p in (tmp_path / "sharded").iterdir()}
    assert len(whole) == 24 and sharded == whole
