"""Labeling and training read the same image files: every label given on the labeling page
reaches the training set, whatever the file type (real files, a real DuckDB store)."""
from __future__ import annotations

import numpy as np
from PIL import Image

from core.labeling.image_files import IMAGE_SUFFIXES
from core.labeling.image_sets import from_folder, load_image, with_store_labels
from core.labeling.session import LabelingConfig, LabelingSession, images_from_folder, persist_answer
from core.store import Store


def test_every_type_labeling_shows_is_trained_on(home, tmp_path) -> None:
    folder = tmp_path / "garments"
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, suffix in enumerate(IMAGE_SUFFIXES):
        pixels = rng.integers(0, 255, (20, 16, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / ("sub" if i % 2 else "") / f"g{i}{suffix.upper() if i == 2 else suffix}")
    (folder / "notes.txt").write_text("not an image")
    images = images_from_folder(folder)
    assert len(images) == len(IMAGE_SUFFIXES)  # .bmp and .gif too
    config = LabelingConfig(gold_min=0, gold_max=0, break_s=0)
    with Store.open(home) as store:
        labeler = store.add_labeler("eve")
        session = LabelingSession.start(images, config, labeler_id=labeler, image_set="garments")
        now = 0.0
        while session.state(now) != "done":
            session.show(now)
            now += 0.5
            persist_answer(store, session, session.answer("preferred" if session.position % 2 else "not_preferred", now))
        rows = store.list_image_labels(labeler)
    trained = with_store_labels(from_folder(folder), rows)
    assert len(rows) == len(IMAGE_SUFFIXES)
    assert sorted(r.path.suffix.lower() for r in trained.records) == sorted(IMAGE_SUFFIXES)
    assert {r.image_id for r in trained.records} == {i.sha256 for i in images}
    for record in trained.records:  # and every one of them loads for training
        assert load_image(record, size=8, channels=3).shape == (8, 8, 3)
