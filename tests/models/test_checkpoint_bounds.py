"""A checkpoint folder is checked before anything is allocated for it: a config.json asking for
a bigger model than its weights, an oversized weights file or config are refused with a
CheckpointError (the memory this saves is measured in tests/app/test_hostile_media.py)."""
from __future__ import annotations

import os

import pytest

from core.errors import CheckpointError
from models.checkpoint import MAX_CONFIG_BYTES, MAX_WEIGHTS_BYTES, load_checkpoint
from models.preference.predict import load_preference_model
from models.training.predict import load_reaction_run
from tests.hostile_media import edit_config, tiny_preference_checkpoint, tiny_reaction_checkpoint


def test_untouched_checkpoints_load(tmp_path) -> None:
    assert load_reaction_run(tiny_reaction_checkpoint(tmp_path / "r")).variant == "plm-ipe"
    assert load_preference_model(tiny_preference_checkpoint(tmp_path / "p")).size == 32


@pytest.mark.parametrize("path, value", [
    (("architecture", "c3d", "width"), 64),  # 3.6 GB of C3D from a 2 MB folder, before this check
    (("architecture", "c3d", "fc_dim"), 1 << 20),
    (("architecture", "lbe", "hidden"), 1 << 16),
    (("architecture", "c3d", "feature"), "fc9"),
    (("architecture", "c3d", "size"), 1 << 12),
])
def test_a_reaction_config_that_does_not_match_its_weights_is_refused(tmp_path, path, value) -> None:
    folder = edit_config(tiny_reaction_checkpoint(tmp_path / "r"), *path, value=value)
    with pytest.raises(CheckpointError, match="config.json"):
        load_reaction_run(folder)


@pytest.mark.parametrize("path, value", [(("model", "widths"), [4096, 4096]), (("model", "image_size"), 1 << 14),
                                         (("input", "size"), 1 << 14), (("model", "hidden"), [1 << 20, 4]),
                                         (("input", "channels"), "3")])
def test_a_preference_config_that_does_not_match_its_weights_is_refused(tmp_path, path, value) -> None:
    folder = edit_config(tiny_preference_checkpoint(tmp_path / "p"), *path, value=value)
    with pytest.raises(CheckpointError, match="config.json"):
        load_preference_model(folder)


def test_oversized_files_are_refused_before_reading(tmp_path) -> None:
    folder = tiny_preference_checkpoint(tmp_path / "p")
    with open(folder / "model.safetensors", "r+b") as handle:  # sparse: no disk or memory used
        handle.truncate(MAX_WEIGHTS_BYTES + 1)
    with pytest.raises(CheckpointError, match="GiB"):
        load_checkpoint(folder)
    config = tiny_preference_checkpoint(tmp_path / "q") / "config.json"
    with open(config, "a") as handle:
        handle.write(" " * MAX_CONFIG_BYTES)
    with pytest.raises(CheckpointError, match="KB"):
        load_checkpoint(config.parent)
    assert os.path.getsize(config) > MAX_CONFIG_BYTES
