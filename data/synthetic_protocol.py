"""Which face each synthetic volunteer wears, and which fold they are in.

Two protocols with the same held-out volunteers wearing the same faces, so the held-out videos
are identical under both (as long as the training volunteers are at least as many as the
held-out identities) and only the training volunteers' faces differ:

- ``leave-faces-out`` (default): the face identities are split first, seeded (about
  ``test_fraction`` of them held out, alternating genders); held-out volunteers wear only
  held-out identities and no training volunteer does, so a held-out score says how a model
  does on faces it never saw (as with real new volunteers).
- ``seen-faces``: training volunteers wear the held-out identities too (the split is by
  volunteer but not by identity); kept to measure how much a model leans on knowing the face.

Held-out volunteers follow PLM-IPE §4.1 as far as a face-driven gender allows: about
``test_fraction`` of the volunteers, only volunteers who took part once, and faces handed out
alternately by gender so the held-out fold is as balanced as the identities allow.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import zip_longest

import numpy as np

PROTOCOLS = ("leave-faces-out", "seen-faces")
DEFAULT_PROTOCOL = "leave-faces-out"
PROTOCOL_NOTES = {
    "leave-faces-out": "held-out volunteers wear only face identities that no training volunteer wears "
                       "(face identities split seeded before volunteers are given faces)",
    "seen-faces": "held-out volunteers wear faces that training volunteers also wear "
                  "(split by volunteer, not by identity)",
}


@dataclass(frozen=True)
class FaceAssignment:
    face: str  # built-in face name or photo path
    face_id: str  # the identity (data.faces.face_identity)
    gender: str
    fold: str  # "train" or "test"


def _by_gender_alternating(items: Sequence[str], gender: dict[str, str]) -> list[str]:
    """``items`` reordered female, male, other, female, ... (each gender keeps its order)."""
    groups: dict[str, list[str]] = {}
    for item in items:
        groups.setdefault(gender[item], []).append(item)
    order = [g for g in ("female", "male") if g in groups] + sorted(g for g in groups if g not in ("female", "male"))
    return [x for row in zip_longest(*(groups[g] for g in order)) for x in row if x is not None]


def _test_volunteers(volunteers: Sequence[tuple[str, int]], test_fraction: float, seed: int) -> set[str]:
    n = len(volunteers)
    once = sorted(v for v, sessions in volunteers if sessions == 1)
    n_test = min(int(test_fraction * n + 0.5), len(once), max(0, n - 1))  # half rounds up, as in core.collection.splits
    rng = np.random.default_rng([seed, 29])
    return {once[i] for i in rng.permutation(len(once))[:n_test]}


def assign_faces(volunteers: Sequence[tuple[str, int]], faces: Sequence[str], *, protocol: str = DEFAULT_PROTOCOL,
                 test_fraction: float = 0.2, seed: int = 0) -> dict[str, FaceAssignment]:
    """``{volunteer_id: FaceAssignment}`` for ``(volunteer_id, sessions)`` pairs; a pure, seeded function."""
    from data.faces import face_gender, face_identity

    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose {' or '.join(PROTOCOLS)}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError("test_fraction must be between 0 and 1")
    if not faces:
        raise ValueError("no faces to give the volunteers")
    identity = {f: face_identity(f) for f in faces}
    faces_of: dict[str, list[str]] = {}
    for f in faces:
        faces_of.setdefault(identity[f], []).append(f)
    id_gender = {i: face_gender(fs[0]) for i, fs in faces_of.items()}
    ids = [list(faces_of)[k] for k in np.random.default_rng([seed, 31]).permutation(len(faces_of))]
    test = _test_volunteers(volunteers, test_fraction, seed)
    held_ids, rest_ids = ([], ids) if not test else (ids, [])  # one identity: seen-faces only
    if test and len(ids) >= 2:
        n_held = min(max(1, int(test_fraction * len(ids) + 0.5)), len(ids) - 1)
        held_ids = _by_gender_alternating(ids, id_gender)[:n_held]
        rest_ids = [i for i in ids if i not in held_ids]
    elif test and protocol == "leave-faces-out":
        raise ValueError(f"leave-faces-out needs at least two face identities, got {ids}; give more faces "
                         "or use the seen-faces protocol")
    face_gender_of = {f: id_gender[identity[f]] for f in faces}
    held = _by_gender_alternating([f for i in held_ids for f in faces_of[i]], face_gender_of)
    rest = _by_gender_alternating([f for i in rest_ids for f in faces_of[i]], face_gender_of)
    # seen-faces: training volunteers wear the held-out faces first, so every one of them is seen
    train_pool = rest if protocol == "leave-faces-out" else held + rest
    train_volunteers = [v for v, _ in volunteers if v not in test]
    out = {v: train_pool[k % len(train_pool)] for k, v in enumerate(train_volunteers)}
    worn = set(out.values())
    test_pool = held if protocol == "leave-faces-out" else [f for f in held if f in worn]
    out.update({v: test_pool[k % len(test_pool)] for k, v in enumerate(v for v, _ in volunteers if v in test)})
    return {v: FaceAssignment(f, identity[f], face_gender_of[f], "test" if v in test else "train") for v, f in out.items()}
