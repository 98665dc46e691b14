"""Generated reaction clips: a real face that dlib finds, moving the way the spec says."""
from __future__ import annotations

import av
import numpy as np
import pytest

from core.reaction.face_models import hog_detector, shape_predictor_68
from data.faces import available_faces, landmarked_face
from data.reaction_video import ReactionSpec, blink_curve, make_reaction_video, reaction_landmarks, render_reaction
from data.video_files import read_frame_index, stamp_frame_index, write_mp4


def dlib_landmarks(frame: np.ndarray) -> np.ndarray:
    faces = hog_detector()(frame, 0)
    assert len(faces) == 1, "dlib must find exactly one face in a generated frame"
    shape = shape_predictor_68()(frame, faces[0])
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)


def iod(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[36:42].mean(0) - points[42:48].mean(0)))


def corner_height(points: np.ndarray) -> float:
    """Mouth corners above the nose base (larger = corners higher), in inter-ocular units."""
    return float((points[48, 1] + points[54, 1]) / 2 - points[33, 1]) * -1 / iod(points)


def brow_height(points: np.ndarray) -> float:
    """Inner brows above the eyes, in inter-ocular units."""
    return float(points[36:48, 1].mean() - points[[20, 21, 22, 23], 1].mean()) / iod(points)


@pytest.fixture(scope="module")
def smile() -> tuple[ReactionSpec, np.ndarray]:
    spec = ReactionSpec("smile", duration_s=2.0, seed=3, onset_s=0.3, ramp_s=0.5, blinks=False)
    return spec, render_reaction(spec)


def test_clip_shape_and_determinism(smile) -> None:
    spec, frames = smile
    assert frames.shape == (60, 480, 640, 3) and frames.dtype == np.uint8
    assert np.array_equal(render_reaction(spec)[::20], frames[::20])
    other = render_reaction(ReactionSpec("smile", duration_s=2.0, seed=4, onset_s=0.3, ramp_s=0.5, blinks=False))
    assert not np.array_equal(other[30], frames[30])  # head motion follows the seed


def test_smile_raises_the_mouth_corners_as_dlib_sees_them(smile) -> None:
    spec, frames = smile
    start, end = dlib_landmarks(frames[0]), dlib_landmarks(frames[-1])
    assert corner_height(end) - corner_height(start) > 0.03
    width_gain = (np.linalg.norm(end[54] - end[48]) / iod(end)) - (np.linalg.norm(start[54] - start[48]) / iod(start))
    assert width_gain > 0.05  # and the mouth widens
    truth = reaction_landmarks(spec)
    assert np.abs(start - truth[0]).mean() < 4.0  # dlib agrees with the ground truth, in pixels
    assert np.abs(end - truth[-1]).mean() < 5.0


def test_frown_lowers_the_brows() -> None:
    spec = ReactionSpec("frown", duration_s=1.5, seed=1, onset_s=0.2, ramp_s=0.4, blinks=False)
    frames = render_reaction(spec)
    start, end = dlib_landmarks(frames[0]), dlib_landmarks(frames[-1])
    assert brow_height(start) - brow_height(end) > 0.03


def test_surprise_raises_the_brows_and_opens_the_mouth() -> None:
    spec = ReactionSpec("surprise", duration_s=1.5, seed=2, onset_s=0.2, ramp_s=0.4, blinks=False)
    frames = render_reaction(spec)
    start, end = dlib_landmarks(frames[0]), dlib_landmarks(frames[-1])
    assert brow_height(end) - brow_height(start) > 0.03
    def mouth_height(points: np.ndarray) -> float:  # outer lips, top to bottom
        return float(points[57, 1] - points[51, 1]) / iod(points)
    assert mouth_height(end) - mouth_height(start) > 0.07  # ground truth +0.18, dlib sees ~+0.11


def test_neutral_blinks_close_the_eyes() -> None:
    spec = ReactionSpec("neutral", duration_s=3.0, seed=5, head_motion=False)
    closure = blink_curve(spec)
    assert closure.max() == 1.0
    assert np.ptp(reaction_landmarks(spec)[:, 48:68], axis=0).max() < 1e-3  # neutral: the mouth stays put
    frames = render_reaction(spec)
    shut, open_ = int(np.argmax(closure)), int(np.argmin(closure))
    def eye_gap(points: np.ndarray) -> float:
        return float((points[[40, 41, 46, 47], 1].mean() - points[[37, 38, 43, 44], 1].mean()) / iod(points))
    assert eye_gap(dlib_landmarks(frames[open_])) - eye_gap(dlib_landmarks(frames[shut])) > 0.05


def test_mp4_and_y4m_files(tmp_path) -> None:
    spec = ReactionSpec("surprise", duration_s=1.0, seed=2)
    mp4 = make_reaction_video(tmp_path / "s.mp4", spec)
    with av.open(str(mp4)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        assert float(stream.average_rate) == 30.0
    assert len(frames) == 30 and frames[0].shape == (480, 640, 3)
    assert len(hog_detector()(frames[15], 0)) == 1
    y4m = make_reaction_video(tmp_path / "s.y4m", spec)
    header = y4m.read_bytes()[:60].split(b"\n")[0]
    assert header == b"YUV4MPEG2 W640 H480 F30:1 Ip A1:1 C420jpeg"
    assert y4m.stat().st_size == len(header) + 1 + 30 * (6 + 640 * 480 * 3 // 2)
    with av.open(str(y4m)) as container:  # ffmpeg reads it back
        assert sum(1 for _ in container.decode(video=0)) == 30


def test_frame_stamps_survive_h264(tmp_path) -> None:
    frames = render_reaction(ReactionSpec("neutral", duration_s=1.0, seed=0, stamp=True))
    assert [read_frame_index(f) for f in frames] == list(range(30))
    path = write_mp4(frames, tmp_path / "stamped.mp4", crf=32)  # lossy on purpose
    with av.open(str(path)) as container:
        decoded = [read_frame_index(f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]
    assert decoded == list(range(30))
    blank = np.full((480, 640, 3), 128, np.uint8)
    assert read_frame_index(blank) == -1
    assert read_frame_index(np.zeros_like(blank)) == -1 and read_frame_index(np.full_like(blank, 255)) == -1
    with pytest.raises(ValueError):
        stamp_frame_index(blank, 5000)
    damaged = stamp_frame_index(blank.copy(), 1234)
    assert read_frame_index(damaged) == 1234
    x = 8 + 5 * 16  # flip one data block: the parity block catches it
    damaged[-32:-16, x:x + 16] = 255 - damaged[-32:-16, x:x + 16]
    assert read_frame_index(damaged) == -1


def test_frame_stamps_survive_vp8(tmp_path) -> None:
    """What a WebRTC capture does to the fake camera's frames (libvpx, a modest bitrate)."""
    frames = render_reaction(ReactionSpec("smile", duration_s=1.0, seed=1, stamp=True))
    path = tmp_path / "stamped.webm"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libvpx", rate=30)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        stream.bit_rate = 800_000
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    with av.open(str(path)) as container:
        decoded = [read_frame_index(f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]
    assert decoded == list(range(30))


def test_every_offline_face_is_usable() -> None:
    names = available_faces()
    assert names[0] == "astronaut"
    for name in names:
        face = landmarked_face(name)
        left, top, right, bottom = face.box
        margin = 0.25 * (right - left)
        xs, ys = face.landmarks[:, 0], face.landmarks[:, 1]
        assert ((xs > left - margin) & (xs < right + margin) & (ys > top - margin) & (ys < bottom + margin)).all()
        assert face.landmarks[36, 0] < face.landmarks[45, 0]  # not mirrored
        frame = render_reaction(ReactionSpec("neutral", duration_s=1 / 30, face=name))[0]
        assert len(hog_detector()(frame, 1)) == 1, f"{name}: the composed frame must show exactly one face"


def test_a_turned_head_shows_the_nose_towards_the_turn_and_dlib_agrees() -> None:
    front = reaction_landmarks(ReactionSpec("neutral", duration_s=1 / 30, head_motion=False))[0]
    spec = ReactionSpec("neutral", duration_s=1 / 30, head_motion=False, yaw_deg=30)
    turned = reaction_landmarks(spec)[0]
    def nose_offset(points: np.ndarray) -> float:  # nose tip right of the eyes' midpoint, in IODs
        return float(points[30, 0] - points[36:48, 0].mean()) / iod(points)
    assert nose_offset(turned) - nose_offset(front) > 0.1
    far, near = np.ptp(turned[42:48, 0]), np.ptp(turned[36:42, 0])  # the eye on the image's right turns away
    assert far < 0.9 * near
    found = dlib_landmarks(render_reaction(spec)[0])
    assert nose_offset(found) - nose_offset(front) > 0.05  # the rendered face is turned, as dlib sees it
    assert np.linalg.norm(found - turned, axis=1).mean() < 0.1 * iod(turned)
    with pytest.raises(ValueError, match="yaw"):
        ReactionSpec(yaw_deg=40)


def test_head_sway_amplitudes_and_brightness_ramp() -> None:
    calm = ReactionSpec("neutral", duration_s=3.0, seed=1, blinks=False)
    wild = ReactionSpec("neutral", duration_s=3.0, seed=1, blinks=False, head_shift_px=40, head_roll_deg=12,
                        head_zoom=0.1, brightness_ramp=0.4)
    def sway(spec: ReactionSpec) -> float:  # peak-to-peak travel of the nose tip, pixels
        return float(np.ptp(reaction_landmarks(spec)[:, 30, 0]))
    assert sway(wild) > 6 * sway(calm) and sway(wild) > 40
    frames = render_reaction(wild)
    brightness = frames[[0, -1]].reshape(2, -1).mean(1)
    assert brightness[1] / brightness[0] == pytest.approx(1.2 / 0.8, rel=0.15)
