"""Which outfits a volunteer sees in a session: a pure, seeded function.

Goals: across volunteers every outfit collects ratings evenly, and no volunteer sees an
outfit twice (over all of their sessions). Rule: among the outfits this volunteer has not
seen, take the ``n`` least covered so far (coverage = views already stored per outfit plus
those planned in sessions still open); ties are broken by a seeded shuffle, so different
volunteers get different orders. The order in which the chosen outfits are shown is
shuffled too (seeded), so no outfit is always first.
"""
from __future__ import annotations

import random
from collections.abc import Iterable, Mapping


def plan_session(
    outfit_ids: Iterable[str],
    coverage: Mapping[str, int],
    seen_by_volunteer: Iterable[str],
    *,
    n: int = 15,
    seed: int | str = 0,
) -> list[str]:
    """Up to ``n`` outfit ids for one session (fewer when the volunteer has seen nearly all)."""
    if n <= 0:
        raise ValueError("a session needs at least one outfit")
    seen = set(seen_by_volunteer)
    candidates = sorted(set(outfit_ids) - seen)
    rng = random.Random(str(seed))
    tie = {oid: rng.random() for oid in candidates}
    chosen = sorted(candidates, key=lambda oid: (coverage.get(oid, 0), tie[oid]))[:n]
    rng.shuffle(chosen)
    return chosen
