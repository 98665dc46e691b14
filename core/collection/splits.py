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
from typing import TYPE_CHECKING, Any

from core.errors import StoreError

if TYPE_CHECKING:
    from core.store import Store

RULE = "plm-ipe-4.1"


@dataclass(frozen=True)
class RosterEntry:
    volunteer_id: str
    gender: str
    sessions: int


BALANCED_GENDERS = ("female", "male")


def make_volunteer_split(
    roster: Iterable[RosterEntry | Mapping[str, Any]], *, test_fraction: float = 0.2, seed: int = 0
) -> dict[str, str]:
    """Map every volunteer to ``"train"`` or ``"test"``.

    The test fold takes ``round(test_fraction * n)`` volunteers, only from those with
    exactly one session (so no volunteer is in both folds and test volunteers took part
    once). Genders are matched case-insensitively. Volunteers whose gender is neither
    female nor male (non-binary, "prefer not to say", ...) get test places in proportion
    to their share of the roster; the rest of the test fold alternates female / male,
    the one with fewer test volunteers so far first, so the two are as equal as the
    eligible volunteers allow (when one runs out, the other fills up). Within a gender
    the order is a seeded shuffle, so the same roster and seed give the same split. If
    too few single-session volunteers exist, the test fold is smaller; callers can see
    that in the result.
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
    n_test = int(test_fraction * len(entries) + 0.5)  # half rounds up, unlike round()
    roster_counts: dict[str, int] = defaultdict(int)
    pools: dict[str, list[str]] = defaultdict(list)
    for entry in sorted(entries, key=lambda e: e.volunteer_id):
        gender = _norm(entry.gender)
        roster_counts[gender] += 1
        if entry.sessions == 1:
            pools[gender].append(entry.volunteer_id)
    for gender in sorted(pools):
        rng.shuffle(pools[gender])
    test: list[str] = []
    # 1) genders outside the female/male balance: places in proportion to the roster
    for gender in sorted(g for g in pools if g not in BALANCED_GENDERS):
        quota = int(n_test * roster_counts[gender] / len(entries) + 0.5)
        while quota > 0 and pools[gender] and len(test) < n_test:
            test.append(pools[gender].pop())
            quota -= 1
    # 2) female / male alternately, the one with fewer test volunteers first
    taken = {g: 0 for g in BALANCED_GENDERS}
    while len(test) < n_test and any(pools[g] for g in BALANCED_GENDERS):
        gender = min((g for g in BALANCED_GENDERS if pools[g]), key=lambda g: (taken[g], g))
        test.append(pools[gender].pop())
        taken[gender] += 1
    # 3) still short: anyone eligible left, in a seeded order
    rest = [vid for g in sorted(pools) for vid in pools[g]]
    rng.shuffle(rest)
    test += rest[: max(0, n_test - len(test))]
    chosen = set(test)
    return {vid: ("test" if vid in chosen else "train") for vid in sorted(ids)}


def _norm(gender: str) -> str:
    return " ".join(str(gender).strip().lower().split()) or "unknown"


def roster_from_store(store: Store) -> list[RosterEntry]:
    """Volunteers with at least one session, with their gender and session count."""
    return [
        RosterEntry(v["volunteer_id"], v["gender"], int(v["sessions"]))
        for v in store.list_volunteers()
        if v["sessions"]
    ]


def save_split(store: Store, name: str, assignment: Mapping[str, str], *, seed: int, params: dict | None = None) -> None:
    """Store a split under ``name``; refuses to overwrite a different one with that name.

    ``params`` should name what the split was made with (test fraction, the
    :class:`~core.labels.LabelThresholds` as a dict) so a model run can report it.
    """
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


def split_info(store: Store, name: str) -> dict[str, Any] | None:
    """The stored row of a split: name, seed, rule, params (test fraction, label thresholds)."""
    return store.one("SELECT * FROM split WHERE split_name = ?", [name])


def split_thresholds(store: Store, name: str) -> Any:
    """The :class:`~core.labels.LabelThresholds` stored with split ``name`` (the defaults when the
    split stored none); raises StoreError for an unknown split."""
    from core.labels import LabelThresholds

    info = split_info(store, name)
    if info is None:
        raise StoreError(f"no split named {name!r}; run `python -m app split --name {name}` first")
    stored = (info.get("params") or {}).get("thresholds")
    return LabelThresholds(**stored) if stored else LabelThresholds()


def load_split(store: Store, name: str) -> dict[str, str] | None:
    if not store.rows("SELECT 1 AS x FROM split WHERE split_name = ?", [name]):
        return None
    rows = store.rows("SELECT volunteer_id, fold FROM split_member WHERE split_name = ?", [name])
    return {r["volunteer_id"]: r["fold"] for r in rows}


def describe_split(assignment: Mapping[str, str], roster: Iterable[RosterEntry]) -> dict[str, Any]:
    """Counts per fold and gender, for reports and the CLI."""
    out: dict[str, Any] = {"train": defaultdict(int), "test": defaultdict(int)}
    for entry in roster:
        fold = assignment.get(entry.volunteer_id)
        if fold:
            out[fold][_norm(entry.gender)] += 1
    return {fold: dict(v) for fold, v in out.items()}
