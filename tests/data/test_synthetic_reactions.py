"""The SYNTHETIC SentiGarment-shaped dataset: its plan at full size, and a toy render end to end."""
from __future__ import annotations

import csv
import dataclasses
from collections import Counter
from pathlib import Path

import av
import numpy as np
import pytest

from core.reaction.face_models import hog_detector, shape_predictor_68
from core.labels import CLASS_NAMES, score_to_class
from data.faces import NOT_DEFAULT_FACES
from data.synthetic_reactions import (
    GENERATOR_VERSION, MANIFEST_COLUMNS, job_landmarks, make_synthetic_dataset, plan_dataset, render_job,
    subset_per_volunteer,
)


def read_manifest(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def dlib_points(frame: np.ndarray) -> np.ndarray:
    faces = hog_detector()(frame, 0)
    assert len(faces) == 1
    return np.array([[p.x, p.y] for p in shape_predictor_68()(frame, faces[0]).parts()], dtype=np.float32)


def iod(p: np.ndarray) -> float:
    return float(np.linalg.norm(p[36:42].mean(0) - p[42:48].mean(0)))


def test_full_size_plan_is_shaped_like_sentigarment() -> None:
    jobs = plan_dataset()
    assert len(jobs) == 3345 and len({j.video_id for j in jobs}) == 3345
    per_volunteer = Counter(j.volunteer_id for j in jobs)
    assert len(per_volunteer) == 120
    sessions = {v: {j.session for j in jobs if j.volunteer_id == v} for v in per_volunteer}
    assert sum(len(s) > 1 for s in sessions.values()) >= 20  # some volunteers came back
    assert all(s == set(range(1, len(s) + 1)) for s in sessions.values())
    shares = np.array([sum(j.label == c for j in jobs) for c in CLASS_NAMES]) / len(jobs)
    assert np.allclose(shares, [1169 / 3345, 842 / 3345, 1334 / 3345], atol=0.05)
    assert all(CLASS_NAMES[score_to_class(j.rating)] == j.label for j in jobs)
    for v in per_volunteer:  # nobody sees an outfit twice while there are unseen ones
        outfits = [j.outfit_index for j in jobs if j.volunteer_id == v]
        assert len(set(outfits)) == min(len(outfits), 64)
    clean = [j for j in jobs if not j.label_noise]
    noisy_share = 1 - len(clean) / len(jobs)
    assert 0.04 < noisy_share < 0.12
    assert {j.expression for j in clean if j.label == "positive"} == {"smile"}
    negative = Counter(j.expression for j in clean if j.label == "negative")
    assert set(negative) == {"frown", "neutral"} and 0.7 < negative["frown"] / sum(negative.values()) < 0.9
    smiles = np.array([(j.rating, j.intensity) for j in clean if j.expression == "smile" and j.label == "positive"])
    assert np.corrcoef(smiles.T)[0, 1] > 0.4  # a higher rating, a bigger smile (expressiveness varies per volunteer)
    # liked and disliked reactions are clear; a neutral rating's faint expression comes and goes again
    assert min(j.intensity for j in clean if j.label != "neutral" and j.expression != "neutral") > 0.3
    mixed = [j for j in clean if j.label == "neutral" and j.expression != "neutral"]
    assert mixed and all(j.release_s is not None and j.intensity < 0.7 for j in mixed)
    assert all(j.release_s is None for j in clean if j.label != "neutral")
    assert all(0.15 <= j.onset_s <= 0.9 and 0.25 <= j.ramp_s <= 0.55 for j in jobs)
    # each volunteer has a style: mean smile intensity differs between volunteers beyond rating effects
    by_volunteer: dict[str, list[float]] = {}
    for j in clean:
        if j.expression == "smile" and j.label == "positive":
            by_volunteer.setdefault(j.volunteer_id, []).append(j.intensity)
    means = [np.mean(v) for v in by_volunteer.values() if len(v) >= 5]
    assert np.std(means) > 0.1
    assert not {j.appearance.face for j in jobs} & set(NOT_DEFAULT_FACES)
    assert plan_dataset() == jobs  # deterministic


def test_class_dynamics_show_in_the_rendered_face() -> None:
    jobs = plan_dataset(n_volunteers=6, n_videos=60, seed=3, faces=["astronaut"], protocol="seen-faces")
    def pick(expression: str, **look):
        job = max((j for j in jobs if j.expression == expression), key=lambda j: j.intensity)
        return dataclasses.replace(job, duration_s=1.2, onset_s=0.1, ramp_s=0.4,
                                   appearance=dataclasses.replace(job.appearance, **look))
    job = pick("smile", mirror=True, shift=(30, -20))
    smile = render_job(job)
    start, end = dlib_points(smile[0]), dlib_points(smile[-1])
    corners = lambda p: -float((p[48, 1] + p[54, 1]) / 2 - p[33, 1]) / iod(p)  # noqa: E731
    assert corners(end) - corners(start) > 0.03
    truth = job_landmarks(job)  # shifted and mirrored like the frames, iBUG order kept
    assert truth.shape == (len(smile), 68, 2)
    assert np.abs(start - truth[0]).mean() < 4.0 and np.abs(end - truth[-1]).mean() < 5.0
    frown = render_job(pick("frown"))
    start, end = dlib_points(frown[0]), dlib_points(frown[-1])
    brows = lambda p: float(p[36:48, 1].mean() - p[[20, 21, 22, 23], 1].mean()) / iod(p)  # noqa: E731
    assert brows(start) - brows(end) > 0.03


def test_toy_dataset_is_written_and_resumable(tmp_path: Path) -> None:
    out = tmp_path / "synthetic"
    manifest = make_synthetic_dataset(out, n_volunteers=3, n_videos=6, duration_s=1.0, seed=1,
                                      progress=False, workers=2)
    assert manifest == out / "manifest.csv"
    assert "SYNTHETIC" in (out / "README.txt").read_text()
    rows = read_manifest(manifest)
    assert list(rows[0]) == MANIFEST_COLUMNS and len(rows) == 6
    assert len({r["volunteer_id"] for r in rows}) == 3
    for row in rows:
        assert CLASS_NAMES[score_to_class(int(row["rating"]))] == row["class"]
        assert row["gender"] in {"female", "male"}
        with av.open(str(out / row["path"])) as container:
            stream = container.streams.video[0]
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
            assert float(stream.average_rate) == 30.0
        assert len(frames) == 30 and frames[0].shape == (480, 640, 3)
    assert len(hog_detector()(frames[15], 0)) == 1
    # a second run renders nothing; a lost video is rendered again, the rest left alone
    stamps = {r["path"]: (out / r["path"]).stat().st_mtime_ns for r in rows}
    lost = out / rows[2]["path"]
    lost.unlink()
    assert make_synthetic_dataset(out, n_volunteers=3, n_videos=6, duration_s=1.0, seed=1,
                                  progress=False, workers=1) == manifest
    assert lost.is_file()
    assert all((out / p).stat().st_mtime_ns == t for p, t in stamps.items() if out / p != lost)
    assert read_manifest(manifest) == rows
    assert not list(out.rglob(".tmp-*"))


def test_bad_sizes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one video per volunteer"):
        make_synthetic_dataset(tmp_path, n_volunteers=5, n_videos=3, progress=False)
    with pytest.raises(ValueError, match="unknown faces"):
        plan_dataset(n_volunteers=1, n_videos=2, faces=["nobody"])


def test_neutral_rating_expression_comes_and_goes() -> None:
    job = next(j for j in plan_dataset(n_volunteers=6, n_videos=90, seed=2)
               if j.label == "neutral" and j.expression == "smile" and not j.label_noise)
    truth = job_landmarks(job)
    iod_px = iod(truth[0])
    width = np.linalg.norm(truth[:, 48] - truth[:, 54], axis=1) / iod_px
    peak = int(np.argmax(width))
    assert width[peak] - width[0] > 0.03  # a faint smile shows ...
    assert abs(width[-1] - width[0]) < 0.25 * (width[peak] - width[0])  # ... and fades again


def test_smile_reaches_the_flow_descriptor(tmp_path: Path) -> None:
    """The class signal survives the real feature pipeline (H.264, dlib tracking, aligned Farneback flow)."""
    from core.reaction.descriptor import extract_features
    from data.video_files import write_mp4

    jobs = plan_dataset(n_volunteers=6, n_videos=60, seed=3, faces=["astronaut"], protocol="seen-faces")

    def mouth_flow(expression: str) -> np.ndarray:
        job = next(j for j in jobs if j.expression == expression and j.label != "neutral")
        job = dataclasses.replace(job, duration_s=1.2, onset_s=0.3, ramp_s=0.35)
        features = extract_features(write_mp4(render_job(job), tmp_path / f"{expression}.mp4", job.fps, crf=23))
        assert features.flow_valid.mean() > 0.9
        return features.flow72[features.flow_valid][:, 36 + 24:36 + 28]  # magnitudes of the four mouth-side regions

    smile, still = mouth_flow("smile"), mouth_flow("neutral")
    assert smile.max(axis=0).mean() > 2 * still.max(axis=0).mean()


def test_subset_per_volunteer_keeps_the_plan(tmp_path: Path) -> None:
    jobs = plan_dataset(n_volunteers=4, n_videos=20, seed=1)
    first = subset_per_volunteer(jobs, 2)
    assert len(first) == 8 and all(Counter(j.volunteer_id for j in first)[v] == 2 for v in {j.volunteer_id for j in jobs})
    assert all(j in jobs for j in first)
    manifest = make_synthetic_dataset(tmp_path, n_volunteers=2, n_videos=6, duration_s=0.5, seed=1, progress=False,
                                      workers=1, per_volunteer=1)
    rows = read_manifest(manifest)
    assert len(rows) == 2 and len({r["volunteer_id"] for r in rows}) == 2
    assert f"'generator_version': {GENERATOR_VERSION}" in (tmp_path / "README.txt").read_text()
    with pytest.raises(ValueError, match="at least 1"):
        subset_per_volunteer(jobs, 0)
