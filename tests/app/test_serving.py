"""The demo's prediction and explanation layer (app/serving.py) with tiny trained models."""
from __future__ import annotations

import numpy as np
import pytest

from core.errors import CheckpointError, IPEError, MediaError
from app.demo_rendering import runs_markdown, to_rgb
from app.serving import CAM_METHODS, DemoService
from tests.demo_fixtures import reaction_videos, tiny_preference_run, tiny_reaction_run


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from core.paths import DataHome

    root = tmp_path_factory.mktemp("demo-home")
    home = DataHome.resolve(root).ensure()
    videos = reaction_videos(root / "videos")
    tiny_reaction_run(home.runs / "reaction-tiny", videos)
    tiny_preference_run(home.runs / "pref-tiny", root / "catalog")
    return home, videos


def test_runs_are_found_by_family(trained) -> None:
    home, _ = trained
    service = DemoService(home)
    assert [r.path.name for r in service.runs("reaction")] == ["reaction-tiny"]
    assert [r.path.name for r in service.runs("preference")] == ["pref-tiny"]
    table = runs_markdown(service.describe_all())
    assert "reaction-tiny" in table and "plm-ipe/plm-ipe" in table


def test_reaction_video_gives_three_probability_sets_frames_and_gradcam(trained) -> None:
    home, videos = trained
    service = DemoService(home)
    run = service.runs("reaction")[0].path
    result = service.analyse_reaction(videos[-1][0], run, gradcam=True)
    for head in ("pbe", "lbe", "fused"):
        probs = result.probabilities(head)
        assert set(probs) == {"negative", "neutral", "positive"} and abs(sum(probs.values()) - 1) < 1e-4
    fused = np.array(list(result.probabilities("fused").values()))
    pbe, lbe = (np.array(list(result.probabilities(h).values())) for h in ("pbe", "lbe"))
    assert np.allclose(fused, 0.3 * lbe + 0.7 * pbe, atol=1e-4)  # the paper's fusion, lambda = 0.3
    assert len(result.timeline_table()) == 2  # 33 frames -> two 16-frame clips
    assert result.annotated_frames and result.annotated_frames[0][0].shape == (480, 640, 3)
    assert len(result.cam_frames) == 4 and result.cam_frames[0][0].shape == (112, 112, 3)
    assert service.analyse_reaction(videos[0][0], run, gradcam=False).cam_frames == []
    assert service._load("reaction", run) is service._load("reaction", run)  # loaded once, cached


def test_lbe_explanation_on_demand_reuses_the_features(trained) -> None:
    home, videos = trained
    service = DemoService(home)
    run = service.runs("reaction")[0].path
    smile = videos[-1][0]
    result = service.analyse_reaction(smile, run, gradcam=False)
    assert len(service._features) == 1  # the first answer stores the features and explains nothing yet
    cached = next(iter(service._features.values()))
    explained = service.explain_lbe(smile, run)
    assert next(iter(service._features.values())) is cached and len(service._features) == 1
    lbe = result.probabilities("lbe")
    assert explained.target == max(lbe, key=lbe.get)
    assert abs(explained.probs[explained.target] - lbe[explained.target]) < 1e-4  # the same LBE on the same input
    assert explained.face.ndim == 3 and explained.face.shape[2] == 3 and explained.face.dtype == np.uint8
    assert explained.timeline.ndim == 3 and explained.timeline.shape[2] == 3
    assert len(explained.table()) == 8 and explained.table()[0][0].startswith("R")
    shares = [share for _, share in explained.top_regions]
    assert shares == sorted(shares, reverse=True) and abs(sum(explained.group_shares.values()) - 1) < 1e-6
    assert 0.0 < explained.peak_time_s <= 1.2 and "integrated gradients" in explained.summary_markdown()
    assert service.explain_lbe(smile, run, target="negative").target == "negative"
    with pytest.raises(IPEError, match="unknown target"):
        service.explain_lbe(smile, run, target="happy")
    with pytest.raises(MediaError, match="no video"):
        service.explain_lbe(None, run)


def test_an_empty_selection_means_the_first_listed_run(trained) -> None:
    """A click can reach the server before the page has been sent the run list (its value is
    still empty): the first listed run answers, as it would have been selected."""
    home, videos = trained
    service = DemoService(home)
    assert service.default_run("reaction") == service.runs("reaction")[0].path
    result = service.analyse_reaction(videos[0][0], "")
    assert result.complete and result.variant == service.analyse_reaction(videos[0][0], "reaction-tiny").variant
    assert service.analyse_image(next((home.root / "catalog").rglob("*.png")), "").overlay is not None


def test_reaction_errors_are_clear(trained, tmp_path) -> None:
    home, videos = trained
    service = DemoService(home, max_video_seconds=0.5)
    run = service.runs("reaction")[0].path
    with pytest.raises(MediaError, match="at most"):
        service.analyse_reaction(videos[0][0], run)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 50)
    with pytest.raises(MediaError, match="not a readable video"):
        DemoService(home).analyse_reaction(broken, run)
    from core.paths import DataHome

    empty = DataHome.resolve(tmp_path / "empty-home").ensure()
    with pytest.raises(IPEError, match="no trained reaction model yet"):
        DemoService(empty).analyse_reaction(videos[0][0], "")
    with pytest.raises(CheckpointError, match="no reaction model"):
        DemoService(home).analyse_reaction(videos[0][0], service.runs("preference")[0].path)
    from data.video_files import write_mp4
    blank = write_mp4(np.full((20, 480, 640, 3), 120, np.uint8), tmp_path / "blank.mp4")
    with pytest.raises(IPEError, match="no face"):
        DemoService(home).analyse_reaction(blank, run)


@pytest.mark.parametrize("method", CAM_METHODS)
def test_image_gives_probability_and_heat_map(trained, method) -> None:
    home, _ = trained
    service = DemoService(home)
    from PIL import Image
    image = np.asarray(Image.open(next((home.root / "catalog" / "tops").glob("*.png"))).convert("RGB"))
    result = service.analyse_image(image, service.runs("preference")[0].path, method=method)
    assert 0.0 <= result.p_preferred <= 1.0
    assert result.heat.shape == image.shape[:2] and 0.0 <= result.heat.min() and result.heat.max() <= 1.0
    assert result.overlay.shape == image.shape and result.overlay.dtype == np.uint8


def test_image_errors(trained, tmp_path) -> None:
    home, _ = trained
    service = DemoService(home)
    with pytest.raises(MediaError, match="no image"):
        service.analyse_image(None, service.runs("preference")[0].path)
    bad = tmp_path / "bad.png"
    bad.write_text("nope")
    with pytest.raises(MediaError, match="not a readable image"):
        to_rgb(bad)
    with pytest.raises(CheckpointError, match="no preference model"):
        service.analyse_image(np.zeros((8, 8, 3), np.uint8), service.runs("reaction")[0].path)


def test_recommend_tab_reads_the_store_or_the_newest_export(home, tmp_path) -> None:
    import subprocess
    import sys

    from core.store import Store
    from tests.conftest import REPO
    from tests.store_helpers import CONSENT, commit_view, store_held_elsewhere

    subprocess.run([sys.executable, "-m", "app", "--home", str(home.root), "init"], cwd=REPO, check=True,
                   capture_output=True)
    with Store.open(home) as store:
        outfits = [o["outfit_id"] for o in store.list_outfits()]
        first = None
        for v in range(4):
            vol = store.add_volunteer(age_band="25-34", gender="female", consent=CONSENT)
            first = first or vol["volunteer_id"]
            sid = store.start_session(vol["volunteer_id"])
            for pos, outfit in enumerate(outfits[v: v + 6]):
                commit_view(store, sid, outfit, pos, rating=90 if pos % 2 else 10)
    service = DemoService(home)
    text = service.recommend_markdown(first)
    assert "data: the store" in text and text.count("\n| ") >= 10 and "rated" in text
    with pytest.raises(IPEError, match="enter a volunteer id"):
        service.recommend_markdown(" ")
    with store_held_elsewhere(home):  # the collection app holds the store read-write
        with pytest.raises(IPEError, match="export the dataset"):
            service.recommend_markdown(first)
    with Store.open(home) as store:
        from core.store.export import export_dataset
        export_dataset(store, home.root / "exports" / "export-20260101T000000", progress=False)
    with store_held_elsewhere(home):
        assert "data: export export-20260101T000000" in service.recommend_markdown(first)


def _fake_run(folder, kind: str = "preference-cnn"):
    """A run folder as discovery sees it: a checkpoint config, metrics and a figure (no weights needed)."""
    import json

    (folder / "model").mkdir(parents=True)
    (folder / "model" / "config.json").write_text(json.dumps({"format": "ipe-checkpoint/1", "kind": kind}))
    (folder / "metrics.json").write_text(json.dumps({"accuracy": 0.75}))
    from PIL import Image
    Image.new("RGB", (4, 4)).save(folder / "confusion.png")
    return folder


def test_runs_are_named_and_only_those_of_the_data_home_are_read(home, tmp_path) -> None:
    _fake_run(home.runs / "mine")
    outside = _fake_run(tmp_path / "elsewhere" / "theirs")
    (home.runs / "escape").symlink_to(outside, target_is_directory=True)
    service = DemoService(home)
    assert [r.value for r in service.runs("preference")] == ["mine"]  # the link to a folder elsewhere is no run
    assert service.describe_all("mine")[0].metrics == {"accuracy": 0.75}  # by run id
    assert service.describe_all(str(home.runs / "mine" / "model"))[0].kinds == ("preference-cnn",)  # or path inside
    assert str(home.root) not in runs_markdown(service.describe_all())  # the table names runs, not server paths

    def refusal(text: str) -> str:
        with pytest.raises(IPEError) as info:
            service.describe_all(text)
        return str(info.value).replace(repr(text), "<given>")

    existing_outside = refusal(str(outside))
    assert "only runs of this demo's data home" in existing_outside
    # the same answer whether or not the place exists: the tab tells nothing about the server's files
    for text in ("/nonexistent/place", "/etc", "../../..", "mine/../../..", "escape", str(tmp_path)):
        assert refusal(text) == existing_outside, text
    with pytest.raises(IPEError, match="only runs of this demo's data home"):
        service.analyse_image(np.zeros((8, 8, 3), np.uint8), str(outside))


def test_images_are_previewed_and_oversized_media_refused_from_headers(trained, tmp_path) -> None:
    from PIL import Image

    from core.media_limits import MediaLimits

    home, videos = trained
    service = DemoService(home)
    run = service.runs("preference")[0].value
    wide = np.random.default_rng(0).integers(0, 255, (1500, 3000, 3), dtype=np.uint8)
    result = service.analyse_image(wide, run)
    assert result.overlay.shape == (512, 1024, 3) and result.heat.shape == (512, 1024)  # a bounded preview
    rgba = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([wide[:300, :200], np.full((300, 200), 255, np.uint8)])).save(rgba)
    assert service.analyse_image(str(rgba), run).overlay.shape == (300, 200, 3)  # a file, as the tab passes it

    small = DemoService(home, limits=MediaLimits(max_image_pixels=50_000, max_video_pixels=320 * 240,
                                                 max_video_frames=20))
    with pytest.raises(MediaError, match="200x300 pixels, more than the 50,000"):
        small.analyse_image(str(rgba), run)
    with pytest.raises(MediaError, match="640x480 pixels per frame"):
        small.analyse_reaction(videos[0][0], service.runs("reaction")[0].value)
    frames = DemoService(home, limits=MediaLimits(max_video_frames=20))
    with pytest.raises(MediaError, match="33 frames, more than the 20"):
        frames.analyse_reaction(videos[0][0], service.runs("reaction")[0].value)


def test_the_landmark_models_answer_comes_first_and_grad_cam_on_demand(trained) -> None:
    home, videos = trained
    service = DemoService(home)
    run = service.runs("reaction")[0].value
    seen = [(step.complete, dict(step.probs), len(step.annotated_frames))
            for step in service.analyse_reaction_steps(videos[-1][0], run)]
    assert [complete for complete, _, _ in seen] == [False, True]
    (_, first, frames_first), (_, last, _) = seen
    assert first["pbe"] is None and first["fused"] is None and frames_first > 0  # frames come with the first answer
    assert np.allclose(first["lbe"], last["lbe"], atol=1e-5) and last["pbe"] is not None
    assert service.analyse_reaction(videos[-1][0], run).cam_frames == []  # Grad-CAM is off by default
    cams = service.clip_gradcam(videos[-1][0], run, 2, per_clip=3)
    assert len(cams) == 3 and all(caption.startswith("clip 2,") for _, caption in cams)
    assert cams[0][0].shape == (112, 112, 3) and cams[0][0].dtype == np.uint8
    with pytest.raises(IPEError, match="clips 1 to 2"):
        service.clip_gradcam(videos[-1][0], run, 3)


def test_a_kept_example_answer_comes_at_once_and_only_for_the_same_video_and_model(trained, tmp_path) -> None:
    """app/demo_answers.py: an example's whole answer is kept once; the same content (even as an
    upload elsewhere) gets it back in one step, another video or retrained weights do not."""
    import shutil

    from app.demo_answers import load_answer

    home, videos = trained
    service = DemoService(home)
    service.answers = tmp_path / "answers"
    example = videos[-1][0]
    fresh = service.analyse_reaction(example, "")
    kept_file = service.keep_answer(example)
    assert kept_file.parent == service.answers and service.keep_answer(example) == kept_file  # made once
    upload = tmp_path / "upload" / "any-name.mp4"
    upload.parent.mkdir()
    shutil.copyfile(example, upload)
    steps = list(service.analyse_reaction_steps(upload, ""))
    assert len(steps) == 1 and steps[0].kept and steps[0].complete
    for head in ("pbe", "lbe", "fused"):
        assert steps[0].probabilities(head) == pytest.approx(fresh.probabilities(head), abs=1e-6)
    assert [c for _, c in steps[0].annotated_frames] == [c for _, c in fresh.annotated_frames]
    from PIL import Image

    kept_frame = np.asarray(Image.open(steps[0].annotated_frames[0][0]), dtype=np.float32)
    assert kept_frame.shape == fresh.annotated_frames[0][0].shape
    assert np.abs(kept_frame - fresh.annotated_frames[0][0]).mean() < 3.0  # the same frame, as a JPEG
    assert "Kept answer" in steps[0].summary_markdown()
    other = list(service.analyse_reaction_steps(videos[0][0], ""))
    assert not other[-1].kept and len(other) == 2  # another video: computed, landmark answer first
    assert len(list(service.answers.iterdir())) == 1  # and not kept: the demo keeps nothing of uploads
    (kept_file / "answer.json").write_text("{not json")  # a damaged answer is computed again, not an error
    assert load_answer(service.answers, kept_file.name) is None
    assert not list(service.analyse_reaction_steps(example, ""))[-1].kept
    assert service.keep_answer(example) == kept_file and list(service.analyse_reaction_steps(example, ""))[-1].kept
    assert [p.name for p in service.answers.iterdir()] == [kept_file.name]  # replaced whole, nothing left beside


def test_retrained_weights_never_meet_an_old_kept_answer(tmp_path) -> None:
    from core.paths import DataHome

    home = DataHome.resolve(tmp_path / "home").ensure()
    videos = reaction_videos(tmp_path / "videos", per_class=1)
    tiny_reaction_run(home.runs / "r", videos, epochs=1)
    service = DemoService(home)
    service.keep_answer(videos[0][0])
    tiny_reaction_run(home.runs / "r", videos, epochs=2, seed=1)  # the same run folder, new weights
    steps = list(DemoService(home).analyse_reaction_steps(videos[0][0], ""))
    assert not steps[-1].kept
