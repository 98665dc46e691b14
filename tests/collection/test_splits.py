"""The PLM-IPE §4.1 split on a roster shaped like the paper's."""
from __future__ import annotations

import random
from collections import Counter

import pytest

from core.errors import StoreError
from core.collection.splits import RosterEntry, load_split, make_volunteer_split, save_split
from core.store import Store
from core.labels import LabelThresholds, score_to_class


def paper_like_roster(seed: int = 1) -> list[RosterEntry]:
    """120 volunteers, 70 male / 50 female, about a third with 2-4 sessions."""
    rng = random.Random(seed)
    roster = []
    for i in range(120):
        gender = "male" if i < 70 else "female"
        sessions = 1 if rng.random() < 0.65 else rng.randint(2, 4)
        roster.append(RosterEntry(f"v{i:03d}", gender, sessions))
    return roster


def test_split_rules_hold() -> None:
    roster = paper_like_roster()
    split = make_volunteer_split(roster, test_fraction=0.2, seed=7)
    assert set(split) == {e.volunteer_id for e in roster}  # every volunteer in exactly one fold
    test = [e for e in roster if split[e.volunteer_id] == "test"]
    assert len(test) == 24  # 8:2 by volunteers
    assert all(e.sessions == 1 for e in test)
    genders = Counter(e.gender for e in test)
    assert abs(genders["male"] - genders["female"]) <= 1
    assert make_volunteer_split(roster, seed=7) == split
    assert make_volunteer_split(roster, seed=8) != split


def test_balance_is_as_good_as_the_roster_allows() -> None:
    roster = [RosterEntry(f"m{i}", "male", 1) for i in range(20)] + [
        RosterEntry(f"f{i}", "female", 1) for i in range(3)] + [RosterEntry(f"f{i+3}", "female", 2) for i in range(7)]
    split = make_volunteer_split(roster, test_fraction=0.3, seed=0)  # 9 test volunteers, only 3 eligible women
    test = Counter(e.gender for e in roster if split[e.volunteer_id] == "test")
    assert test == {"female": 3, "male": 6}


def test_split_is_stored_and_reloaded(home) -> None:
    roster = paper_like_roster()
    split = make_volunteer_split(roster, seed=3)
    with Store.open(home) as store:
        save_split(store, "paper", split, seed=3)
        save_split(store, "paper", split, seed=3)  # same content: fine
        assert load_split(store, "paper") == split
        from core.collection.splits import split_thresholds
        assert split_thresholds(store, "paper") == LabelThresholds()  # none stored: the defaults
        with pytest.raises(StoreError, match="no split named"):
            split_thresholds(store, "nope")
        with pytest.raises(StoreError, match="different split"):
            save_split(store, "paper", make_volunteer_split(roster, seed=4), seed=4)


@pytest.mark.parametrize("score, cls", [(0, 0), (40, 0), (41, 1), (59, 1), (60, 2), (100, 2)])
def test_default_thresholds(score, cls) -> None:
    assert score_to_class(score) == cls


def test_thresholds_are_configurable_and_checked() -> None:
    assert score_to_class(45, LabelThresholds(negative_max=50, positive_min=51)) == 0
    with pytest.raises(ValueError):
        LabelThresholds(negative_max=70, positive_min=60)
    with pytest.raises(ValueError):
        score_to_class(101)


def test_other_genders_get_proportional_places_and_case_does_not_matter() -> None:
    roster = ([RosterEntry(f"f{i}", "Female" if i % 2 else "female", 1) for i in range(40)]
              + [RosterEntry(f"m{i}", "male", 1) for i in range(40)]
              + [RosterEntry(f"n{i}", "non-binary", 1) for i in range(10)]
              + [RosterEntry(f"p{i}", "prefer not to say", 1) for i in range(10)])
    split = make_volunteer_split(roster, test_fraction=0.2, seed=5)
    test = Counter(e.volunteer_id[0] for e in roster if split[e.volunteer_id] == "test")
    assert sum(test.values()) == 20
    assert test["n"] == 2 and test["p"] == 2  # 10% of the roster each -> 10% of the test fold
    assert test["f"] == test["m"] == 8


def test_when_female_and_male_run_out_others_fill_the_fold() -> None:
    roster = ([RosterEntry("f0", "female", 1), RosterEntry("m0", "male", 1)]
              + [RosterEntry(f"f{i}", "female", 3) for i in range(1, 8)]
              + [RosterEntry(f"x{i}", "prefer not to say", 1) for i in range(4)])
    split = make_volunteer_split(roster, test_fraction=0.5, seed=0)  # 7 wanted, 6 eligible
    test = sorted(v for v, fold in split.items() if fold == "test")
    assert test == ["f0", "m0", "x0", "x1", "x2", "x3"]


def test_describe_split_counts_folds_by_gender() -> None:
    from core.collection.splits import describe_split

    roster = paper_like_roster()
    summary = describe_split(make_volunteer_split(roster, seed=0), roster)
    assert sum(summary["train"].values()) == 96 and sum(summary["test"].values()) == 24
