"""Take recorder: normalised size and constant frame rate, media-time cap, honest counters."""
from __future__ import annotations

import numpy as np

from core.collection.recorder import TakeRecorder
from core.reaction.video import read_video
from data.reaction_video import ReactionSpec, render_reaction
from data.video_files import read_frame_index


def test_cap_at_media_time_and_content_kept(tmp_path) -> None:
    frames = render_reaction(ReactionSpec("smile", duration_s=3.0, seed=0, stamp=True))
    rec = TakeRecorder(tmp_path / "take.mp4", max_seconds=2.0)
    for i, frame in enumerate(frames):  # 3 s offered, 2 s kept
        rec.push_array(frame, 10.0 + i / 30)  # browser timestamps do not start at 0
    assert rec.wait(10) and not rec.recording
    meta = rec.meta()
    assert meta["frames"] == 60 and meta["frames_received"] == 60 and meta["frames_duplicated"] == 0
    assert rec.status(min_seconds=1.5) == "ok"
    video = read_video(rec.path)
    assert video.frames.shape == (60, 480, 640, 3) and abs(video.fps - 30) < 0.01
    assert [read_frame_index(f) for f in video.frames] == list(range(60))


def test_slow_small_source_is_normalised_and_counted(tmp_path) -> None:
    rec = TakeRecorder(tmp_path / "take.mp4", max_seconds=10.0)
    for i in range(20):  # 2 s at 10 fps, 320x240
        rec.push_array(np.full((240, 320, 3), 100, np.uint8), i / 10)
    rec.stop()
    rec.wait(10)
    meta = rec.meta()
    assert (meta["width"], meta["height"], meta["source_width"], meta["source_height"]) == (640, 480, 320, 240)
    assert meta["source_fps"] == 10.0 and meta["frames"] == 58 and meta["frames_duplicated"] == 38
    assert read_video(rec.path).frames.shape[1:3] == (480, 640)


def test_no_frames_is_a_failed_take(tmp_path) -> None:
    rec = TakeRecorder(tmp_path / "none.mp4")
    rec.stop()
    rec.wait(5)
    assert rec.status(1.5) == "failed" and not rec.path.exists()


def test_short_take(tmp_path) -> None:
    rec = TakeRecorder(tmp_path / "short.mp4")
    for i in range(15):
        rec.push_array(np.zeros((480, 640, 3), np.uint8), i / 30)
    rec.stop()
    rec.wait(5)
    assert rec.status(min_seconds=1.5) == "short"


def test_timestamp_jitter_loses_nothing(tmp_path) -> None:
    """A 30 fps camera whose timestamps wobble by up to 12 ms keeps every frame, in order."""
    rng = np.random.default_rng(0)
    frames = render_reaction(ReactionSpec("neutral", duration_s=2.0, seed=1, stamp=True))
    rec = TakeRecorder(tmp_path / "jitter.mp4", max_seconds=10.0)
    for i, frame in enumerate(frames):
        rec.push_array(frame, i / 30 + rng.uniform(-0.012, 0.012))
    rec.stop()
    rec.wait(10)
    meta = rec.meta()
    assert meta["frames_dropped"] == 0 and meta["frames_duplicated"] == 0 and meta["frames"] == 60
    assert [read_frame_index(f) for f in read_video(rec.path).frames] == list(range(60))


def test_a_source_a_little_faster_than_30_fps_never_makes_a_take_longer_than_the_cut(tmp_path) -> None:
    """30.4 fps against a 2 s cut: 61 frames arrive before the cut, less than a frame ahead of the
    output's clock (so none is dropped as early), and the output keeps 60 (2.0 s)."""
    frames = render_reaction(ReactionSpec("smile", duration_s=3.0, seed=0, stamp=True))
    rec = TakeRecorder(tmp_path / "fast.mp4", max_seconds=2.0)
    for i, frame in enumerate(frames):
        rec.push_array(frame, i / 30.4)
    assert rec.wait(10)
    meta = rec.meta()
    assert meta["frames_received"] == 61 and meta["frames"] == 60 and meta["frames_dropped"] == 1
    assert read_video(rec.path).frames.shape[0] == 60


def test_a_faster_preset_writes_the_same_format_and_says_so(tmp_path) -> None:
    """IPE_VIDEO_PRESET changes only libx264's effort: same container, codec, size, rate and frames."""
    import av

    frames = render_reaction(ReactionSpec("smile", duration_s=1.0, seed=0, stamp=True))
    metas, sizes = {}, {}
    for preset in ("veryfast", "ultrafast"):
        rec = TakeRecorder(tmp_path / f"{preset}.mp4", max_seconds=2.0, preset=preset)
        for i, frame in enumerate(frames):
            rec.push_array(frame, i / 30)
        rec.stop()
        assert rec.wait(10)
        metas[preset] = rec.meta()
        with av.open(str(rec.path)) as container:
            stream = container.streams.video[0]
            assert (container.format.name.split(",")[0], stream.codec_context.name, stream.width, stream.height,
                    float(stream.average_rate)) == ("mov", "h264", 640, 480, 30.0)
        assert [read_frame_index(f) for f in read_video(rec.path).frames] == list(range(30))
        sizes[preset] = rec.path.stat().st_size
    assert metas["ultrafast"]["encoder_preset"] == "ultrafast" and metas["veryfast"]["encoder_preset"] == "veryfast"
    assert {k: v for k, v in metas["ultrafast"].items() if k not in ("encoder_preset", "start_to_first_frame_s",
                                                                    "stop_to_closed_s")} == \
        {k: v for k, v in metas["veryfast"].items() if k not in ("encoder_preset", "start_to_first_frame_s",
                                                                 "stop_to_closed_s")}
    assert sizes["ultrafast"] > sizes["veryfast"]  # less effort, larger file
