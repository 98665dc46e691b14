"""Labeling session logic: queue, subgroups and breaks, gold repeats, undo, slow flag, and
persistence through a real Store (DuckDB file in a tmp data home)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.labeling.results import labeling_summary, self_consistency
from core.errors import SettingsError
from core.settings import load_settings
from core.labeling.session import (
    ImageRef, LabelingConfig, LabelingError, LabelingSession, images_from_folder, images_from_items, persist_answer, persist_undo, plan_queue, rows_for_set,
)
from core.store import Store

NO_GOLD = dict(gold_min=0, gold_fraction=0.0)


def imgs(n: int) -> list[ImageRef]:
    return [ImageRef(path=f"/x/{i}.png", sha256=f"{i:064x}", image_id=f"i{i}") for i in range(n)]


def label_all(session: LabelingSession, answers, *, t0: float = 0.0, dt: float = 0.5) -> float:
    now = t0
    for a in answers:
        if session.state(now) == "break":
            now += session.break_remaining_s(now)
            session.resume(now)
        session.show(now)
        now += dt
        session.answer(a, now)
    return now


def test_config_defaults_follow_the_paper_and_env_overrides():
    cfg = LabelingConfig()
    assert (cfg.subgroup_size, cfg.break_s, cfg.slow_threshold_s) == (50, 30.0, 1.0)
    env = load_settings({"IPE_LABEL_SUBGROUP": "3", "IPE_LABEL_BREAK_S": "2.5", "IPE_LABEL_GOLD_MIN": "0",
                         "IPE_LABEL_MAX_IMAGES": ""}).labeling()
    assert (env.subgroup_size, env.break_s, env.gold_min, env.max_images) == (3, 2.5, 0, None)
    with pytest.raises(SettingsError, match="IPE_LABEL_SUBGROUP"):
        load_settings({"IPE_LABEL_SUBGROUP": "many"})
    with pytest.raises(LabelingError):
        LabelingConfig(subgroup_size=0)


def test_queue_is_a_seeded_per_labeler_shuffle_without_gold():
    images = imgs(40)
    cfg = LabelingConfig(**NO_GOLD)
    a1 = plan_queue(images, cfg, labeler_key="ann", image_set="s")
    a2 = plan_queue(images, cfg, labeler_key="ann", image_set="s")
    b = plan_queue(images, cfg, labeler_key="bob", image_set="s")
    assert [e.image for e in a1] == [e.image for e in a2]  # reproducible
    assert [e.image for e in a1] != [e.image for e in b]  # labelers differ
    assert sorted(e.image.image_id for e in a1) == sorted(i.image_id for i in images)  # a permutation
    assert [e.position for e in a1] == list(range(40)) and not any(e.is_gold for e in a1)
    assert len(plan_queue(images, LabelingConfig(max_images=7, **NO_GOLD))) == 7


def test_gold_repeats_come_later_and_are_marked_on_the_repeat_only():
    images = imgs(100)
    cfg = LabelingConfig(gold_fraction=0.05, gold_min=2, gold_max=10, gold_min_gap=5)
    queue = plan_queue(images, cfg, labeler_key="ann")
    gold = [e for e in queue if e.is_gold]
    assert len(gold) == 5 and len(queue) == 105
    for g in gold:
        firsts = [e for e in queue if e.image == g.image and not e.is_gold]
        assert len(firsts) == 1 and g.position - firsts[0].position >= 5
    assert cfg.gold_count(5) == 0 and cfg.gold_count(10) == 2 and cfg.gold_count(10_000) == 10


def test_subgroups_enforce_a_break_that_cannot_be_skipped():
    cfg = LabelingConfig(subgroup_size=3, break_s=30, **NO_GOLD)
    s = LabelingSession.start(imgs(7), cfg, labeler_id="l1", image_set="s")
    assert s.subgroup_count == 3
    now = label_all(s, ["preferred"] * 3)
    assert s.state(now) == "break" and s.break_remaining_s(now) == pytest.approx(30)
    with pytest.raises(LabelingError, match="break"):
        s.answer("preferred", now + 1)
    with pytest.raises(LabelingError, match="not over"):
        s.resume(now + 29)
    s.resume(now + 30)
    assert s.state(now + 30) == "labeling" and s.current().position == 3
    now = label_all(s, ["skip"] * 4, t0=now + 30)
    assert s.state(now) == "done" and s.progress() == 1.0
    assert s.break_until is None  # no break after the last image


def test_response_time_and_slow_flag():
    s = LabelingSession.start(imgs(4), LabelingConfig(**NO_GOLD), labeler_id="l", image_set="s")
    s.show(10.0)
    fast = s.answer("preferred", 10.4)
    assert (fast.response_ms, fast.slow) == (400, False)
    s.show(20.0)
    s.show(20.5)  # re-rendering the same image does not restart its clock
    slow = s.answer("not_preferred", 21.2)
    assert (slow.response_ms, slow.slow) == (1200, True)  # flagged, not dropped
    browser = s.answer("preferred", 99.0, response_ms=1000)  # the browser's measurement wins
    assert (browser.response_ms, browser.slow) == (1000, False)  # "slower than 1 s" is strict
    assert len({fast.label_id, slow.label_id, browser.label_id}) == 3
    with pytest.raises(LabelingError, match="answer must be"):
        s.answer("maybe", 100.0, response_ms=5)
    with pytest.raises(LabelingError, match="fractions"):
        s.answer("preferred", 100.0, response_ms=5, region_xy=(1.5, 0.2))
    last = s.answer("preferred", 100.0, response_ms=5, region_xy=(0.25, 0.75))
    assert last.region_xy == (0.25, 0.75) and s.state(100.0) == "done"


def test_undo_is_a_stack_with_a_depth_and_crosses_breaks():
    cfg = LabelingConfig(subgroup_size=3, break_s=10, undo_depth=2, **NO_GOLD)
    s = LabelingSession.start(imgs(6), cfg, labeler_id="l", image_set="s")
    with pytest.raises(LabelingError, match="nothing to undo"):
        s.undo(0.0)
    now = label_all(s, ["preferred", "not_preferred", "skip"])
    assert s.state(now) == "break"
    undone = s.undo(now)  # a mistake on the subgroup's last image: undo ends the pending break
    assert undone.answer == "skip" and s.position == 2 and s.state(now) == "labeling"
    assert s.undo(now).answer == "not_preferred"
    with pytest.raises(LabelingError, match="cannot be undone"):
        s.undo(now)  # depth 2
    s.show(now)
    s.answer("preferred", now + 0.3)
    s.show(now + 1)
    s.answer("preferred", now + 1.3)
    assert s.state(now + 1.3) == "break"  # completing the subgroup again brings the break back
    s.resume(now + 11.3)
    s.show(now + 12)
    s.answer("skip", now + 12.2)
    s.undo(now + 13)
    s.show(now + 13)
    s.answer("skip", now + 13.5)
    assert s.state(now + 13.5) == "labeling"  # a served break is not repeated
    assert [a.answer for a in s.answers] == ["preferred", "preferred", "preferred", "skip"]


def test_self_consistency_and_summary():
    base = dict(labeler_id="l", image_set="s", slow=False, undone_at=None, region_x=None)
    rows = [
        dict(base, image_sha256="a", answer="preferred", is_gold=False, answered_at=1, response_ms=300),
        dict(base, image_sha256="b", answer="not_preferred", is_gold=False, answered_at=2, response_ms=500),
        dict(base, image_sha256="c", answer="skip", is_gold=False, answered_at=3, response_ms=700),
        dict(base, image_sha256="a", answer="preferred", is_gold=True, answered_at=4, response_ms=900),
        dict(base, image_sha256="b", answer="preferred", is_gold=True, answered_at=5, response_ms=1100, slow=True),
        dict(base, image_sha256="c", answer="preferred", is_gold=True, answered_at=6, response_ms=1300, slow=True),
        dict(base, image_sha256="d", answer="preferred", is_gold=False, answered_at=7, response_ms=1,
             undone_at=8),
    ]
    assert self_consistency(rows) == {"pairs": 2, "agree": 1, "skipped_pairs": 1, "consistency": 0.5}
    (summary,) = labeling_summary(rows)
    assert summary["answers"] == 6 and summary["preferred"] == 4 and summary["skip"] == 1
    assert summary["slow_share"] == pytest.approx(2 / 6) and summary["median_response_ms"] == 800
    assert summary["gold"] == 3 and summary["gold_consistency"] == 0.5


def test_folder_images_are_hashed_and_deduplicated(tmp_path: Path):
    rgb = np.zeros((8, 8, 3), np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    Image.fromarray(rgb).save(tmp_path / "same.png")
    (tmp_path / "sub").mkdir()
    Image.fromarray(rgb + 50).save(tmp_path / "sub" / "b.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    found = images_from_folder(tmp_path)
    assert [i.image_id for i in found] == ["a.png", "sub/b.jpg"] and len(found[0].sha256) == 64
    (tmp_path / "empty").mkdir()
    with pytest.raises(LabelingError, match="no images"):
        images_from_folder(tmp_path / "empty")
    with pytest.raises(LabelingError, match="not a folder"):
        images_from_folder(tmp_path / "missing")


def write_tiny_fashion_mnist(folder: Path, n: int = 40) -> np.ndarray:
    """A tiny train split in the Debian package's IDX layout (for $IPE_FASHION_MNIST)."""
    import gzip
    import struct

    images = np.random.default_rng(0).integers(0, 255, (n, 28, 28), dtype=np.uint8)
    with gzip.open(folder / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes())
    with gzip.open(folder / "train-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 2049, n) + bytes(i % 10 for i in range(n)))
    return images


def test_fashion_mnist_subset_is_seeded_and_ids_match_the_models_side(tmp_path):
    from core.labeling.fashion_mnist import image_id
    from core.labeling.session import fashion_mnist_index, images_from_fashion_mnist

    images = write_tiny_fashion_mnist(tmp_path)
    refs = images_from_fashion_mnist("train", count=10, seed=3, folder=tmp_path)
    assert refs == images_from_fashion_mnist("train", count=10, seed=3, folder=tmp_path) and len(refs) == 10
    for ref in refs:
        split, index = fashion_mnist_index(ref.path)
        assert split == "train" and ref.sha256 == image_id(images[index])
    assert fashion_mnist_index("/data/x.png") is None


def _catalog(home, n: int = 6) -> list[dict]:
    from data.demo_catalog import generate_demo_catalog
    from core.collection.catalog import import_catalog

    folder = generate_demo_catalog(home.root.parent / "cat", n_tops=n // 2, n_bottoms=n - n // 2, n_outfits=2)
    with Store.open(home) as store:
        import_catalog(store, folder)
        return store.list_items()


def test_persistence_through_a_real_store_and_restore(home):
    items = _catalog(home)
    cfg = LabelingConfig(subgroup_size=3, break_s=5, gold_min=1, gold_max=1, gold_min_gap=2)
    with Store.open(home) as store:
        labeler = store.add_labeler("ann")
        assert store.add_labeler("ann") == labeler
        s = LabelingSession.start(images_from_items(items), cfg, labeler_id=labeler, image_set="catalog")
        assert s.total == 7 and sum(e.is_gold for e in s.queue) == 1
        now = 0.0
        for i in range(4):
            if s.state(now) == "break":
                now += 5
                s.resume(now)
            s.show(now)
            now += 0.3 + i * 0.4
            persist_answer(store, s, s.answer(["preferred", "not_preferred", "skip", "preferred"][i], now,
                                                region_xy=(0.5, 0.5) if i == 0 else None))
        persist_undo(store, s.undo(now))
        persist_answer(store, s, s.answers[-1])  # a retried write is idempotent
        rows = store.list_image_labels(labeler)
        assert [r["answer"] for r in rows] == ["preferred", "not_preferred", "skip"]
        assert [r["response_ms"] for r in rows] == [300, 700, 1100] and [r["slow"] for r in rows] == [False, False, True]
        assert rows[0]["region_xy"] == (0.5, 0.5) and rows[0]["image_set"] == "catalog"
        assert {r["image_sha256"] for r in rows} <= {it["sha256"] for it in items}
        assert len(store.list_image_labels(labeler, include_undone=True)) == 4

    with Store.open(home, read_only=True) as store:  # a new sitting continues where the labeler stopped
        again = LabelingSession.start(images_from_items(items), cfg, labeler_id=labeler, image_set="catalog")
        assert again.restore(rows_for_set(store.list_image_labels(labeler), "catalog")) == 3
        assert again.state(0.0) == "labeling" and not again.can_undo()  # the break after 3 counts as served
        other = LabelingSession.start(images_from_items(items), cfg, labeler_id="someone-else", image_set="catalog")
        with pytest.raises(LabelingError, match="do not follow"):
            other.restore(rows_for_set(store.list_image_labels(labeler), "catalog"))
