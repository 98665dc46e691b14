"""The labeling page in a real browser: headless Chromium (Debian's, via Playwright) labels a
6-image catalog in subgroups of 3 with the keyboard (and one button), undoes twice, skips,
meets the enforced break, and the test checks the rows in DuckDB: answers, undone rows kept
for audit, response times measured in the browser against the waits the robot made, slow flags.
Server and browser run in a loopback-only network namespace (docs/recording-recipe.md)."""
from __future__ import annotations

import json
import os
import shutil

import pytest

from core.collection.catalog import import_catalog
from core.store import Store
from data.demo_catalog import generate_demo_catalog
from tests.browser_support import run_in_namespace

pytestmark = pytest.mark.browser
ANSWER_OF = {"ArrowRight": "preferred", "a": "preferred", "x": "not_preferred", "ArrowLeft": "not_preferred",
             "s": "skip", "Not preferred (X)": "not_preferred", "Backspace": "undo", "u": "undo"}


def test_label_a_subgroup_with_the_keyboard(home):
    if not shutil.which("unshare") or os.geteuid() != 0 or not os.path.exists("/usr/bin/chromium"):
        pytest.fail("needs root, util-linux's unshare and Debian's chromium (scripts/setup.sh installs them)")
    catalog = generate_demo_catalog(home.root.parent / "catalog", n_tops=3, n_bottoms=3, n_outfits=2)
    with Store.open(home) as store:
        import_catalog(store, catalog)
        items = {it["path"]: it for it in store.list_items()}
    out = home.root / "scenario.json"
    env = {**os.environ, "IPE_HOME": str(home.root), "IPE_LABEL_SUBGROUP": "3", "IPE_LABEL_BREAK_S": "2",
           "IPE_LABEL_GOLD_MIN": "0", "IPE_LABEL_GOLD_FRACTION": "0"}
    result = run_in_namespace(["tests/labeling_browser_scenario.py", str(home.root), str(out)], env=env, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["server_non_loopback"] == []
    assert all(u.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "about:")) for u in report["requests"])

    # what the robot did, with undo applied: the expected stored answers, oldest first
    expected, undone = [], []
    for step in report["steps"]:
        if ANSWER_OF[step["key"]] == "undo":
            undone.append(expected.pop())
        else:
            expected.append(step)
    assert len(expected) == 6 and len(undone) == 2

    with Store.open(home, read_only=True) as store:
        (labeler,) = store.list_labelers()
        assert labeler["name"] == "tester"
        rows = store.list_image_labels(labeler["labeler_id"])
        every = store.list_image_labels(labeler["labeler_id"], include_undone=True)
    assert [r["answer"] for r in rows] == [ANSWER_OF[s["key"]] for s in expected]
    assert [items[r["image_path"]]["item_id"] for r in rows] == [s["caption"] for s in expected]
    assert len({r["image_sha256"] for r in rows}) == 6  # every catalog image once, none lost or doubled
    assert {r["image_sha256"] for r in rows} == {it["sha256"] for it in items.values()}
    assert len(every) == 8 and sum(r["undone_at"] is not None for r in every) == 2  # undo keeps an audit row
    assert len({r["label_id"] for r in every}) == 8 and all(r["image_set"] == "catalog:all" for r in every)
    for row, step in zip(rows, expected):
        # measured in the browser from the painted image to the key event: at least the robot's wait
        # before it pressed, at most the time until its press returned plus its own latency in seeing
        # the image (generous on a loaded 2-core machine)
        assert step["wait_ms"] - 20 <= row["response_ms"] <= step["done_ms"] + 1500, (row, step)
        assert row["slow"] == (row["response_ms"] > 1000) and not row["is_gold"]
    assert rows[1]["answer"] == "skip" and rows[1]["slow"]  # slower than 1 s: flagged, kept
    assert min(r["response_ms"] for r in rows) < 1000
    assert [r["region_xy"] is not None for r in rows] == [False] * 5 + [True]
    assert rows[-1]["region_xy"] == pytest.approx((0.25, 0.75), abs=0.02)
