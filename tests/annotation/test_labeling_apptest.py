"""The labeling page with Streamlit's AppTest on a real DuckDB store: sign-in and image-set
choice, resuming where a labeler stopped, the researchers' results and folder registration
(password-gated; a visitor picks a registered name, never a path).
AppTest cannot run the keyboard component's JavaScript: answering by keyboard is covered by
``test_labeling_browser.py`` in a real Chromium."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.labeling.session import LabelingConfig, LabelingSession, images_from_folder, persist_answer
from core.store.access import image_folders, register_image_folder
from tests.conftest import REPO
from tests.labeling.test_labeling import write_tiny_fashion_mnist

PAGE = str(REPO / "annotation" / "labeling_page.py")


@pytest.fixture
def store(home, monkeypatch):
    import annotation.resources as resources

    monkeypatch.setenv("IPE_LABEL_SUBGROUP", "2")
    monkeypatch.setenv("IPE_LABEL_GOLD_MIN", "0")
    monkeypatch.setenv("IPE_RESEARCHER_PASSWORD", "secret")
    resources.get_store.clear()
    yield resources.get_store()
    resources.get_store.clear()  # the cached store holds the file open


def _images(folder, count: int = 5, seed: int = 0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (32, 24, 3), dtype=np.uint8)).save(folder / f"img{i}.png")
    return folder


@pytest.fixture
def folder(home):
    return _images(home.root / "images" / "pics")


def _sign_in(at: AppTest, name: str, choice: str) -> AppTest:
    at.text_input[0].input(name)
    next(r for r in at.radio if r.label == "Image set").set_value(choice)
    return next(b for b in at.button if b.label == "Start labeling").click().run()


def _researcher(at: AppTest) -> AppTest:
    next(r for r in at.radio if r.label == "Labeling").set_value("Results (researchers)").run()
    at.text_input[0].input("secret")
    return next(b for b in at.button if b.label == "Sign in").click().run()


def test_sign_in_picks_a_set_and_resumes_where_the_labeler_stopped(store, folder):
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    _sign_in(at, "ann", "Catalog: all items")
    assert any("catalog is empty" in e.value for e in at.error)  # says what to do
    register_image_folder(store, "pics", folder)
    at.run()
    _sign_in(at, "ann", "Folder: pics")
    assert not at.exception, at.exception
    session = at.session_state["lab_session"]
    assert session.total == 5 and session.image_set == f"folder:{folder.resolve()}" and session.position == 0
    assert "ann: 0 of 5" in at.get("progress")[0].proto.text

    # two answers stored (as the component would), then a new browser session continues at 3
    labeler = store.add_labeler("ann")
    again = LabelingSession.start(images_from_folder(folder), LabelingConfig(), labeler_id=labeler,
                                  image_set=session.image_set)
    for t in (0.0, 1.0):
        again.show(t)
        persist_answer(store, again, again.answer("preferred", t + 0.4))
    fresh = AppTest.from_file(PAGE, default_timeout=30).run()
    _sign_in(fresh, "ann", "Folder: pics")
    resumed = fresh.session_state["lab_session"]
    assert resumed.position == 2 and resumed.state(0.0) == "labeling"  # the break after 2 was served
    assert "ann: 2 of 5" in fresh.get("progress")[0].proto.text


def test_fashion_mnist_set_shows_its_images(store, tmp_path, monkeypatch):
    write_tiny_fashion_mnist(tmp_path)
    monkeypatch.setenv("IPE_FASHION_MNIST", str(tmp_path))
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.number_input[0].set_value(12)
    _sign_in(at, "cy", "Fashion-MNIST (the paper's source domain)")
    assert not at.exception, at.exception
    session = at.session_state["lab_session"]
    assert session.image_set == "fashion-mnist:train:12:seed0" and session.total == 13  # 12 + 1 gold repeat
    assert session.current().image.path.startswith("fashion-mnist:train/")


def test_results_need_the_password_and_show_consistency(store, folder):
    labeler = store.add_labeler("bob")
    config = LabelingConfig(gold_min=1, gold_max=1, gold_min_gap=2, break_s=0)
    session = LabelingSession.start(images_from_folder(folder), config, labeler_id=labeler, image_set="f")
    now = 0.0
    while session.state(now) != "done":
        session.show(now)
        now += 1.5 if session.position == 0 else 0.5
        persist_answer(store, session, session.answer("preferred", now))
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    next(r for r in at.radio if r.label == "Labeling").set_value("Results (researchers)").run()
    assert not at.metric  # nothing before the password
    _researcher(at)
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["answers"] == "6" and metrics["self-consistency on gold"] == "100%"
    assert metrics["slow share (> threshold)"] == "17%"  # 1 of 6 slower than 1 s


def test_a_visitor_picks_registered_folders_only_and_they_stay_in_the_data_home(store, home, tmp_path):
    outside = _images(tmp_path / "elsewhere", count=2, seed=1)
    inside = _images(home.root / "images" / "shoes", count=2, seed=2)
    (inside / "link.png").symlink_to(outside / "img0.png")  # a file linking out of the data home
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    # the anonymous sign-in takes a name and a choice among fixed sets: no path anywhere
    assert [t.label for t in at.text_input] == ["Your name or labeler id"]
    options = next(r for r in at.radio if r.label == "Image set").options
    assert not any("folder" in o.lower() for o in options), options

    _researcher(at)
    assert not at.exception, at.exception
    for name, path in (("out", str(outside)), ("dots", str(inside / ".." / ".." / ".." / "elsewhere")),
                       ("etc", "/etc")):
        next(t for t in at.text_input if t.label == "Name labelers will see").input(name)
        next(t for t in at.text_input if t.label.startswith("Folder (inside")).input(path)
        next(b for b in at.button if b.label == "Register folder").click().run()
        assert any("must lie inside the data home" in e.value for e in at.error), [e.value for e in at.error]
    next(t for t in at.text_input if t.label == "Name labelers will see").input("shoes")
    next(t for t in at.text_input if t.label.startswith("Folder (inside")).input("images/shoes")
    next(b for b in at.button if b.label == "Register folder").click().run()
    assert image_folders(store) == {"shoes": "images/shoes"}

    fresh = AppTest.from_file(PAGE, default_timeout=30).run()
    assert "Folder: shoes" in next(r for r in fresh.radio if r.label == "Image set").options
    _sign_in(fresh, "dee", "Folder: shoes")
    assert not fresh.exception, fresh.exception
    session = fresh.session_state["lab_session"]
    assert session.total == 2  # the link to a file outside the data home is left out
    assert all(Path(e.image.path).is_relative_to(inside.resolve()) for e in session.queue)
