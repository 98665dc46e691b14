"""Video reading with PyAV: real timestamps, clear errors for missing, empty, corrupt and zero-frame files."""
from __future__ import annotations

import av
import numpy as np
import pytest

from core.errors import MediaError
from core.reaction.video import probe_video, read_video
from tests.features_media import smile_video


@pytest.fixture(scope="module")
def smile_mp4(tmp_path_factory):
    return smile_video(tmp_path_factory.mktemp("v"))


def test_read_video_timestamps(smile_mp4) -> None:
    video = read_video(smile_mp4)
    assert video.frames.shape == (60, 480, 640, 3) and video.frames.dtype == np.uint8
    assert np.all(np.diff(video.timestamps_s) > 0) and video.timestamps_s[0] == 0
    assert np.allclose(np.diff(video.timestamps_s), 1 / 30, atol=1e-3)
    assert video.fps == pytest.approx(30.0, rel=1e-3)
    assert read_video(smile_mp4, max_frames=5).frames.shape[0] == 5
    assert probe_video(smile_mp4)["frames"] == 60


@pytest.mark.parametrize("content, message", [(b"", "empty"), (b"\x00garbage" * 100, "not a readable video"),
                                               (None, "no such file")])
def test_bad_files_give_clear_errors(tmp_path, content, message) -> None:
    path = tmp_path / "bad.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(MediaError, match=message):
        read_video(path)


def test_a_video_with_zero_frames_is_an_error(tmp_path) -> None:
    path = tmp_path / "zero.mp4"
    with av.open(str(path), "w") as container:  # a valid MP4 header with a video stream and no frame
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        container.start_encoding()
    assert path.stat().st_size > 0
    with pytest.raises(MediaError, match="no frames|no decodable frame|no video stream"):
        read_video(path)


def test_a_truncated_file_keeps_the_frames_that_decode(tmp_path, smile_mp4) -> None:
    cut = tmp_path / "cut.mp4"
    raw = smile_mp4.read_bytes()
    cut.write_bytes(raw[: len(raw) // 2])
    try:
        video = read_video(cut)
    except MediaError as err:  # MP4 with its index at the end: unreadable, but clearly said so
        assert str(cut) in str(err)
    else:
        assert 0 < len(video.frames) <= 60


def test_grey_luma_path_matches_rgb_decoding(smile_mp4) -> None:
    import cv2

    from core.reaction.video import iter_frames, iter_frames_gray

    for (rgb_ref, t_ref, _), (rgb, grey, t, _) in zip(iter_frames(smile_mp4, max_frames=3),
                                                       iter_frames_gray(smile_mp4, max_frames=3)):
        assert t == t_ref and grey.shape == rgb.shape[:2] and grey.dtype == np.uint8
        assert np.abs(rgb.astype(int) - rgb_ref).mean() < 3  # cv2 I420 vs swscale rgb24
        assert np.abs(grey.astype(int) - cv2.cvtColor(rgb_ref, cv2.COLOR_RGB2GRAY)).mean() < 3
