"""Bounds on user media, checked from file headers before anything is decoded.

A small file can decode to a huge picture (a 446 KB PNG of 12000x12000 pixels is 432 MB as
RGB), so every place where an uploaded or registered image or video enters the kit reads the
size from the header first and refuses what is over these bounds with a :class:`MediaError`
that says the limit and what to do. Defaults fit the study's media (640x480 recordings, catalog
photos) with room to spare; servers may set ``IPE_MAX_IMAGE_PIXELS``, ``IPE_MAX_VIDEO_PIXELS``,
``IPE_MAX_VIDEO_FRAMES`` and ``IPE_PREVIEW_SIDE`` (declared in ``core/settings.py``). README
("Limits on user media") states the memory these bounds keep a demo request under.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from core.errors import MediaError, SettingsError

_ENV = {"max_image_pixels": "IPE_MAX_IMAGE_PIXELS", "max_video_pixels": "IPE_MAX_VIDEO_PIXELS",
        "max_video_frames": "IPE_MAX_VIDEO_FRAMES", "preview_side": "IPE_PREVIEW_SIDE"}


@dataclass(frozen=True)
class MediaLimits:
    max_image_pixels: int = 40_000_000  # IPE_MAX_IMAGE_PIXELS: e.g. 8000x5000
    max_video_pixels: int = 1920 * 1080  # IPE_MAX_VIDEO_PIXELS: per frame
    max_video_frames: int = 3600  # IPE_MAX_VIDEO_FRAMES: 2 min at 30 fps, 30 s at 120 fps
    preview_side: int = 1024  # IPE_PREVIEW_SIDE: heat-map overlays are drawn on a preview this long

    def __post_init__(self) -> None:
        for item in fields(self):
            if getattr(self, item.name) < 1:
                raise SettingsError(f"{_ENV[item.name]} must be at least 1, not {getattr(self, item.name)}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "MediaLimits":
        env = os.environ if environ is None else environ
        values: dict[str, int] = {}
        for name, var in _ENV.items():
            if env.get(var, "").strip():
                try:
                    values[name] = int(env[var])
                except ValueError as err:
                    raise SettingsError(f"{var}={env[var]!r} is not a whole number") from err
        return cls(**values)

    def check_image(self, width: int, height: int, what: Any) -> None:
        if width * height > self.max_image_pixels:
            raise MediaError(f"{what}: the image is {width}x{height} pixels, more than the "
                             f"{self.max_image_pixels:,} this server takes; scale it down first")

    def check_video(self, width: int, height: int, frames: int, what: Any) -> None:
        if width * height > self.max_video_pixels:
            raise MediaError(f"{what}: the video is {width}x{height} pixels per frame, more than the "
                             f"{self.max_video_pixels:,} this server takes (1920x1080 by default); scale it down first")
        if frames > self.max_video_frames:
            raise MediaError(f"{what}: the video has {frames} frames, more than the {self.max_video_frames} "
                             "this server takes; trim it")


def open_image(path: str | os.PathLike[str], limits: MediaLimits | None = None):
    """Open an image for reading with its pixel count checked from the header (nothing decoded yet).

    Returns the PIL image (use it as a context manager); an unreadable file or one over the
    limit raises :class:`MediaError`.
    """
    from PIL import Image, UnidentifiedImageError

    limits = limits or MediaLimits.from_env()
    try:
        image = Image.open(Path(path))
    except Image.DecompressionBombError as err:
        raise MediaError(f"{path}: the image is larger than this server takes; scale it down first") from err
    except (UnidentifiedImageError, OSError) as err:
        raise MediaError(f"{path}: not a readable image ({err})") from err
    try:
        limits.check_image(image.width, image.height, Path(path).name)
    except MediaError:
        image.close()
        raise
    return image


def guard_pil(limits: MediaLimits | None = None) -> None:
    """Make PIL itself refuse to decode images far over the limit (it raises above twice
    ``MAX_IMAGE_PIXELS``): a backstop for decoders outside this kit (e.g. a UI library's)."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = (limits or MediaLimits.from_env()).max_image_pixels
