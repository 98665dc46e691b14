"""A FAN weight file that holds pickled Python objects is refused with the kit's own error:
it is never unpickled, and the person is told what is wrong, not shown an UnpicklingError."""
from __future__ import annotations

import argparse
import pickle

import pytest

from core.reaction.landmarks import BackendUnavailableError, FaceAlignmentBackend


@pytest.mark.parametrize("how", ["torch.save", "pickle.dump"])
def test_a_pickle_as_fan_weights_gives_a_clear_error(monkeypatch, tmp_path, how) -> None:
    import torch

    path = tmp_path / f"fan-{how}.pth.tar"
    payload = {"state": argparse.Namespace(note="an arbitrary Python object")}  # not plain tensors
    if how == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    monkeypatch.setenv("IPE_FAN_WEIGHTS", str(path))
    with pytest.raises(BackendUnavailableError) as info:
        FaceAlignmentBackend()
    message = str(info.value)
    assert str(path) in message and "never" in message and "dlib" in message
    assert "\n" not in message and "Unpickl" not in message  # one line, in the kit's words
