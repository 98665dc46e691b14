"""The SYNTHETIC SentiGarment-shaped dataset: its plan at full size, and a toy render end to end."""
from __future__ import annotations

import csv
import dataclasses
from collections import Counter
from pathlib import Path

import av
import numpy as np
import pytest

from core.face_models import hog_detector, shape_predictor_68
from core.labels import CLASS_NAMES, score_to_class
from data.faces import POSED_EXPRESSION_FACES
from data.synthetic_reactions import MANIFEST_COLUMNS, job_landmarks, make_synthetic_dataset, plan_dataset, render_job


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
    assert {j.expression for j in clean if j.label == "negative"} <= {"frown", "surprise"}
    smiles = np.array([(j.rating, j.intensity) for j in clean if j.expression == "smile" and j.label == "positive"])
    assert np.corrcoef(smiles.T)[0, 1] > 0.5  # a higher rating, a bigger smile
    assert not {j.appearance.face for j in jobs} & set(POSED_EXPRESSION_FACES)
    assert plan_dataset() == jobs  # deterministic


def test_class_dynamics_show_in_the_rendered_face() -> None:
    jobs = plan_dataset(n_volunteers=6, n_videos=60, seed=3, faces=["astronaut"])
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
