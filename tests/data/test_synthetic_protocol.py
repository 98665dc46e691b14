"""Leave-faces-out and seen-faces: who wears which face, who is held out, and what the manifest records."""
from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from data.faces import available_faces, face_identity, load_face
from data.synthetic_protocol import PROTOCOL_NOTES, assign_faces
from data.synthetic_reactions import MANIFEST_COLUMNS, make_synthetic_dataset, plan_dataset


def _folds(jobs) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {"train": set(), "test": set()}
    for j in jobs:
        out[j.fold].add(j.face_id)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_leave_faces_out_holds_out_whole_identities(seed: int) -> None:
    jobs = plan_dataset(seed=seed)  # the full-size plan, default protocol
    faces = _folds(jobs)
    assert faces["train"] and faces["test"] and not faces["train"] & faces["test"]
    n_ids = len({face_identity(f) for f in available_faces(default_only=True)})
    assert len(faces["test"]) == int(0.2 * n_ids + 0.5)
    volunteers = {j.volunteer_id: j for j in jobs}
    test = [v for v, j in volunteers.items() if j.fold == "test"]
    assert len(test) == 24  # 20 % of 120
    sessions = Counter((j.volunteer_id, j.session) for j in jobs)
    assert all(sum(1 for (v, _) in sessions if v == t) == 1 for t in test)  # held-out volunteers took part once
    genders = Counter(volunteers[v].gender for v in test)
    assert abs(genders["female"] - genders["male"]) <= len(test) // 3  # as balanced as the held-out faces allow


def test_both_protocols_hold_out_the_same_videos_and_only_training_faces_differ() -> None:
    kw = dict(n_volunteers=12, n_videos=120, duration_s=2.0, test_fraction=0.25, seed=4)
    unseen = plan_dataset(protocol="leave-faces-out", **kw)
    seen = plan_dataset(protocol="seen-faces", **kw)
    held_unseen = [j for j in unseen if j.fold == "test"]
    assert held_unseen == [j for j in seen if j.fold == "test"]  # identical held-out videos, faces included
    assert [(j.rating, j.expression, j.intensity, j.onset_s) for j in unseen] == \
        [(j.rating, j.expression, j.intensity, j.onset_s) for j in seen]  # the same reactions everywhere
    assert _folds(seen)["test"] <= _folds(seen)["train"]
    assert not _folds(unseen)["test"] & _folds(unseen)["train"]
    assert plan_dataset(protocol="seen-faces", **kw) == seen  # seeded
    assert _folds(plan_dataset(protocol="leave-faces-out", **{**kw, "seed": 5}))["test"] != _folds(unseen)["test"]


def test_assignment_by_identity_not_by_photo(tmp_path: Path) -> None:
    photo = tmp_path / "v.png"
    Image.fromarray(load_face("astronaut")[:300, 60:400]).save(photo)
    volunteers = [(f"v{k}", 1) for k in range(10)]
    # a photo file is an identity of its own; identities, not photos, are split
    given = assign_faces(volunteers, ["astronaut", str(photo), "feat-single", "grace-hopper"],
                         protocol="leave-faces-out", test_fraction=0.3, seed=0)
    side = {(a.face_id, a.fold) for a in given.values()}
    ids_by_fold = {f: {i for i, g in side if g == f} for f in ("train", "test")}
    assert not ids_by_fold["train"] & ids_by_fold["test"]
    assert Counter(a.fold for a in given.values())["test"] == 3
    with pytest.raises(ValueError, match="at least two face identities"):
        assign_faces(volunteers, ["astronaut"], protocol="leave-faces-out")
    only_one = assign_faces(volunteers, ["astronaut"], protocol="seen-faces")
    assert {a.face for a in only_one.values()} == {"astronaut"}
    with pytest.raises(ValueError, match="unknown protocol"):
        assign_faces(volunteers, ["astronaut"], protocol="faces-out")


def test_manifest_records_face_identity_fold_and_protocol(tmp_path: Path) -> None:
    out = tmp_path / "set"
    manifest = make_synthetic_dataset(out, n_volunteers=4, n_videos=4, duration_s=0.4, seed=2, progress=False,
                                      workers=1, protocol="leave-faces-out", test_fraction=0.25,
                                      faces=["astronaut", "feat-single", "grace-hopper"])
    with open(manifest, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == MANIFEST_COLUMNS
    assert {r["protocol"] for r in rows} == {"leave-faces-out"}
    folds = {f: {r["face_id"] for r in rows if r["fold"] == f} for f in ("train", "test")}
    assert folds["test"] and not folds["train"] & folds["test"]
    assert PROTOCOL_NOTES["leave-faces-out"] in (out / "README.txt").read_text()
    plan = json.loads((out / "plan.json").read_text())
    assert plan["protocol"] == "leave-faces-out" and plan["faces"] == ["astronaut", "feat-single", "grace-hopper"]
    # the folder holds this plan: another protocol would mix faces into its videos, so it is refused
    with pytest.raises(ValueError, match="protocol differ.*another output folder"):
        make_synthetic_dataset(out, n_volunteers=4, n_videos=4, duration_s=0.4, seed=2, progress=False, workers=1,
                               protocol="seen-faces", test_fraction=0.25,
                               faces=["astronaut", "feat-single", "grace-hopper"])


def test_one_face_cannot_be_left_out() -> None:
    with pytest.raises(ValueError, match="leave-faces-out needs at least two face identities"):
        plan_dataset(n_volunteers=6, n_videos=12, faces=["astronaut"])
    assert {j.fold for j in plan_dataset(n_volunteers=6, n_videos=12, faces=["astronaut"], protocol="seen-faces")} \
        == {"train", "test"}
