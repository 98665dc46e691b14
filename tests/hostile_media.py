"""Hostile inputs for the limit tests, made without holding them in memory: a PNG that is small
on disk but huge when decoded, a video with huge frames, and checkpoints whose config.json asks
for a much bigger model than their weights."""
from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def huge_png(path: Path, width: int, height: int) -> Path:
    """An 8-bit RGB PNG of ``width`` x ``height`` black pixels, compressed row by row (a
    12000x12000 one is ~420 KB on disk and 432 MB decoded)."""
    compressor = zlib.compressobj(9)
    row = b"\x00" + bytes(3 * width)  # filter byte + pixels
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + _chunk(b"IDAT", idat) + _chunk(b"IEND", b""))
    return path


def big_video(path: Path, width: int, height: int, frames: int = 4) -> Path:
    """An MPEG-4 video of ``frames`` flat grey frames of ``width`` x ``height``."""
    import av

    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        plane = np.full((height * 3 // 2, width), 128, np.uint8)
        for _ in range(frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(plane, format="yuv420p")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def tiny_reaction_checkpoint(folder: Path) -> Path:
    """A real (untrained) PLM-IPE checkpoint: C3D at 1/16 width, fc 16, LSTM 8."""
    from models.checkpoint import save_checkpoint
    from models.reaction.c3d import C3DConfig
    from models.reaction.lbe import LBEConfig
    from models.reaction.plm_ipe import ModelConfig
    from models.reaction.registry import PRIMARY_HEAD, build_from_config

    config = ModelConfig(variant="plm-ipe", c3d=C3DConfig(width=1 / 16, fc_dim=16), lbe=LBEConfig(hidden=8))
    model = build_from_config(config)
    meta = {"variant": config.variant, "architecture": config.to_dict(), "primary_head": PRIMARY_HEAD[config.variant]}
    return save_checkpoint(folder, model.state_dict(), meta, kind=f"plm-ipe/{config.variant}")


def tiny_preference_checkpoint(folder: Path) -> Path:
    from models.preference.cnn import PreferenceCNN, PreferenceCNNConfig
    from models.preference.predict import save_preference_model

    model = PreferenceCNN(PreferenceCNNConfig(image_size=32, in_channels=3, widths=(4, 8), hidden=(8, 4)))
    return save_preference_model(folder, model)


def edit_config(folder: Path, *path: str, value: object) -> Path:
    """Set ``config.json[path...] = value`` in place (what a careless or hostile person might do)."""
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text())
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    config_path.write_text(json.dumps(config))
    return folder
