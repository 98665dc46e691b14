"""Train/test split by volunteer, following PLM-IPE §4.1.

The paper: "We split the dataset into train and test set following the ratio of 8 : 2
based on the number of volunteers ... i) no overlap of these volunteers with the training
set, ii) each volunteer has participated in the annotation process just once, iii) we try
to balance the male/female ratio as best as possible."

:func:`make_volunteer_split` is a pure, seeded function of the roster; :func:`save_split`
and :func:`load_split` keep it in the store so a model run can name the split it used.
"""
from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import StoreError

RULE = "plm-ipe-4.1"


@dataclass(frozen=True)
class RosterEntry:
    volunteer_id: str
    gender: str
    sessions: int


def make_volunteer_split(
    roster: Iterable[RosterEntry | Mapping[str, Any]], *, test_fraction: float = 0.2, seed: int = 0
) -> dict[str, str]:
    """Map every volunteer to ``"train"`` or ``"test"``.

    The test fold takes ``round(test_fraction * n)`` volunteers, only from those with
    exactly one session, drawn gender by gender so the counts are as equal as the roster
    allows (round robin over genders, the least-represented gender first; within a gender
    the order is a seeded shuffle). If too few single-session volunteers exist, the test
    fold is smaller and the caller can read that from the result.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError("test_fraction must be between 0 and 1")
    entries = [
        e if isinstance(e, RosterEntry) else RosterEntry(str(e["volunteer_id"]), str(e.get("gender") or "unknown"), int(e["sessions"]))
        for e in roster
    ]
    ids = [e.volunteer_id for e in entries]
    if len(set(ids)) != len(ids):
        raise ValueError("a volunteer appears twice in the roster")
    rng = random.Random(seed)
    n_test = round(test_fraction * len(entries))
    pools: dict[str, list[str]] = defaultdict(list)
    for entry in sorted(entries, key=lambda e: e.volunteer_id):
        if entry.sessions == 1:
            pools[entry.gender].append(entry.volunteer_id)
    for gender in sorted(pools):
        rng.shuffle(pools[gender])
    taken: dict[str, int] = {g: 0 for g in pools}
    test: set[str] = set()
    while len(test) < n_test and any(pools.values()):
        # the gender with the fewest test volunteers so far that still has candidates
        gender = min((g for g in pools if pools[g]), key=lambda g: (taken[g], g))
        test.add(pools[gender].pop())
        taken[gender] += 1
    return {vid: ("test" if vid in test else "train") for vid in sorted(ids)}


def roster_from_store(store: Any) -> list[RosterEntry]:
    """Volunteers with at least one session, with their gender and session count."""
    return [
        RosterEntry(v["volunteer_id"], v["gender"], int(v["sessions"]))
        for v in store.list_volunteers()
        if v["sessions"]
    ]


def save_split(store: Any, name: str, assignment: Mapping[str, str], *, seed: int, params: dict | None = None) -> None:
    """Store a split under ``name``; refuses to overwrite a different one with that name."""
    existing = load_split(store, name)
    if existing is not None:
        if existing == dict(assignment):
            return
        raise StoreError(f"a different split named {name!r} exists; choose another name")
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO split (split_name, seed, rule, params) VALUES (?, ?, ?, ?)",
            [name, seed, RULE, json.dumps(params or {}, sort_keys=True)],
        )
        cur.executemany(
            "INSERT INTO split_member (split_name, volunteer_id, fold) VALUES (?, ?, ?)",
            [[name, vid, fold] for vid, fold in sorted(assignment.items())],
        )


def load_split(store: Any, name: str) -> dict[str, str] | None:
    if not store._rows("SELECT 1 AS x FROM split WHERE split_name = ?", [name]):
        return None
    rows = store._rows("SELECT volunteer_id, fold FROM split_member WHERE split_name = ?", [name])
    return {r["volunteer_id"]: r["fold"] for r in rows}


def describe_split(assignment: Mapping[str, str], roster: Iterable[RosterEntry]) -> dict[str, Any]:
    """Counts per fold and gender, for reports and the CLI."""
    out: dict[str, Any] = {"train": defaultdict(int), "test": defaultdict(int)}
    for entry in roster:
        fold = assignment.get(entry.volunteer_id)
        if fold:
            out[fold][entry.gender] += 1
    return {fold: dict(v) for fold, v in out.items()}
