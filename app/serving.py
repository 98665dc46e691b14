"""Prediction and explanation for the Gradio demo (``app/demo.py`` only builds the interface).

:class:`DemoService` finds trained runs under ``<home>/runs`` (``core/store/runs.py``), loads a
model lazily the first time it is used and keeps it (keyed by folder and modification
time, so a retrained run is reloaded), and turns inputs into results:

- :meth:`DemoService.analyse_reaction_steps`: a video -> features (``core.reaction.descriptor``,
  with the run's extraction settings) -> first the LBE's probabilities and frames with
  landmarks, regions and flow drawn on them, then the PBE / fused probabilities and a per-clip
  timeline of the pixel model (``analyse_reaction``: both at once).
- :meth:`DemoService.clip_gradcam`: on demand, Grad-CAM of the C3D on one clip
  (pytorch-grad-cam's 3-D GradCAM on the last conv block, upsampled to 16x112x112 and
  overlaid per frame).
- :meth:`DemoService.explain_lbe`: on demand, after ``analyse_reaction`` (whose features it
  reuses), which face regions and seconds drove the landmark model (``app/lbe_explanation.py``).
- :meth:`DemoService.analyse_image`: an image -> P(preferred) and a heat map with the
  chosen CAM method, computed at the model's input size and drawn on a preview of at most
  ``MediaLimits.preview_side`` pixels a side.

Uploads are checked from their headers before decoding (``core/media_limits.py``: pixels per
image, pixels per video frame, frame count). Runs are named by their folder under
``<home>/runs``; a folder given by path must lie there too (resolved, symlinks followed), and
a path outside gets the same answer whether or not it exists.

Every problem a person can cause (no run yet, unreadable, too large or too long media, no
face, a checkpoint of the wrong kind) raises :class:`core.errors.IPEError` with what to do.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from core.errors import CheckpointError, IPEError, MediaError
from core.media_limits import MediaLimits
from core.paths import DataHome, resolve_inside
from core.store.runs import RunInfo, describe_run, discover_runs
from app.demo_answers import answer_key, load_answer, model_digest, save_answer
from app.demo_examples import examples_folder
from app.demo_results import PreferenceAnalysis, ReactionAnalysis, RunChoice
from app.demo_rendering import annotate_frames, reaction_gradcam, to_rgb
from app.demo_runs import feature_config, is_demo, pick_checkpoint
from models.checkpoint import PREFERENCE_KIND, REACTION_KIND

log = logging.getLogger(__name__)
CAM_METHODS = ("gradcam", "gradcam++", "eigencam")
TRAIN_REACTION_HINT = "train one with `python -m app train --help` (or `python -m app compare`)"
TRAIN_PREFERENCE_HINT = "train one with `python -m app train-preference --help`"
DEMO_STORE_WAIT_S = 2.0  # how long the demo waits for the store held by the collection app


def family_of(kind: str) -> str:
    if kind.startswith(REACTION_KIND):
        return "reaction"
    if kind.startswith(PREFERENCE_KIND):
        return "preference"
    return "other"


class DemoService:
    """Owns the models of one data home; safe to share between Gradio worker threads."""

    def __init__(self, home: DataHome, *, max_video_seconds: float = 30.0, limits: MediaLimits | None = None) -> None:
        self.home = home
        self.runs_root = home.runs
        self.max_video_seconds = max_video_seconds
        self.limits = limits or MediaLimits.from_env()
        self._cache: dict[tuple[str, str, float], Any] = {}
        self._features: dict[tuple[str, float, int, Any], Any] = {}  # the last few videos' features, for explain_lbe
        self.answers = examples_folder(home) / "answers"  # kept answers of the example videos
        self._model_digests: dict[tuple[str, float], str] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ runs
    def resolve_run(self, run: str | Path) -> Path:
        """The folder of a run given by name (a folder under ``<home>/runs``) or by a path that
        resolves to a folder there; anything else is refused without saying whether it exists."""
        text = str(run).strip()
        root = self.runs_root.resolve()
        folder = resolve_inside(text, root)
        if folder is None:
            raise IPEError(f"{text!r}: only runs of this demo's data home can be loaded; pick a run from the "
                           "list, or give a run folder under its runs/ folder (e.g. a run id)")
        if not folder.is_dir():
            raise CheckpointError(f"there is no run {str(folder.relative_to(root))!r} in this demo's data home; "
                                  "pick one from the list")
        return folder

    def _own_runs(self) -> list[RunInfo]:
        """The runs under ``<home>/runs`` that really lie there (a link to a folder elsewhere is not one)."""
        root = self.runs_root.resolve()
        return [run for run in discover_runs(self.runs_root) if run.path.resolve().is_relative_to(root)]

    def describe_all(self, extra_path: str | None = None) -> list[RunInfo]:
        runs = self._own_runs()
        if extra_path:
            info = describe_run(self.resolve_run(extra_path))
            if info.problem and not info.checkpoints:
                raise IPEError(f"{extra_path}: {info.problem}")
            runs.insert(0, info)
        return runs

    def runs(self, family: str) -> list[RunChoice]:
        """The runs holding a ``family`` model, DEMO runs first (labelled so), then newest first."""
        out = []
        for run in sorted(self._own_runs(), key=lambda r: not is_demo(r)):  # stable: newest first within each
            if any(family_of(c.kind) == family for c in run.checkpoints):
                acc = run.metrics.get("accuracy")
                label = ("DEMO: " if is_demo(run) else "") + run.run_id
                label += f" (accuracy {acc:.2f})" if isinstance(acc, (int, float)) else ""
                out.append(RunChoice(label, run.path))
        return out

    def default_run(self, family: str) -> Path:
        """The run an empty selection means: the first one listed (a DEMO run when there is one).
        A click can reach the server before the page has been sent the run list."""
        runs = self.runs(family)
        if not runs:
            hint = TRAIN_REACTION_HINT if family == "reaction" else TRAIN_PREFERENCE_HINT
            raise IPEError(f"no trained {family} model yet: {hint}")
        return runs[0].path

    def _load(self, family: str, folder: str | Path) -> Any:
        folder = self.resolve_run(folder) if str(folder).strip() else self.default_run(family)
        info = describe_run(folder)
        kinds = {family_of(c.kind) for c in info.checkpoints}
        if family not in kinds:
            raise CheckpointError(
                f"{folder.name} holds no {family} model (found: {', '.join(info.kinds) or 'no checkpoint'}); pick another run"
            )
        ckpt = pick_checkpoint([c for c in info.checkpoints if family_of(c.kind) == family])
        stamp = (ckpt.path / "model.safetensors").stat().st_mtime if (ckpt.path / "model.safetensors").exists() else 0.0
        key = (family, str(ckpt.path), stamp)
        with self._lock:
            if key not in self._cache:
                try:
                    if family == "reaction":
                        from models.training.predict import load_reaction_run

                        self._cache[key] = load_reaction_run(ckpt.path)
                    else:
                        from models.preference.predict import load_preference_model

                        self._cache[key] = load_preference_model(ckpt.path)
                except CheckpointError as err:  # name the run as the page does, not by its server path
                    raise CheckpointError(str(err).replace(f"{self.runs_root.resolve()}/", "")) from err
            return self._cache[key]

    # ------------------------------------------------------------------ reaction
    def analyse_reaction_steps(self, video: str | Path | None, run: str | Path,
                               sample_frames: int = 8) -> Iterator[ReactionAnalysis]:
        """The answer in two steps: first the landmark model's probabilities and the annotated frames
        (``pbe``/``fused`` still ``None`` unless the run has no LBE), then everything; both are
        the same object, filled in."""
        self._check_video(video)  # from the header, before any model or frame is loaded
        predictor = self._load("reaction", run)
        config = feature_config(predictor.config, self.max_video_seconds)
        kept = load_answer(self.answers, self._answer_key(video, predictor, config, sample_frames))
        if kept is not None:
            yield ReactionAnalysis(**kept, kept=True)
            return
        timings: dict[str, float] = {}
        t = time.perf_counter()
        features = self._video_features(video, config)
        timings["features"] = time.perf_counter() - t
        t = time.perf_counter()
        annotated = annotate_frames(video, features, sample_frames, limits=self.limits)
        timings["frames"] = time.perf_counter() - t
        clip_len = features.clips.shape[1] if len(features.clips) else config.clip_len
        fps = features.fps or 30.0
        result = ReactionAnalysis(
            probs={"pbe": None, "lbe": None, "fused": None}, clip_probs=None,
            clip_times=[(i * clip_len / fps, (i + 1) * clip_len / fps) for i in range(len(features.clips))],
            annotated_frames=annotated, cam_frames=[], timings_s=timings, variant=predictor.variant,
            faces_found=int(features.face_found.sum()), frames=int(len(features.face_found)),
        )
        if predictor.model.lbe is not None and predictor.model.pbe is not None:
            t = time.perf_counter()
            result.probs["lbe"] = predictor.predict_lbe(features)
            timings["landmark model"] = time.perf_counter() - t
            yield result
        t = time.perf_counter()
        out = predictor.predict(features)
        timings["predict"] = time.perf_counter() - t
        result.probs = {"pbe": out["pbe"], "lbe": out["lbe"], "fused": out["fused"]}
        result.clip_probs = out.get("clip_probs")
        result.complete = True
        yield result

    def keep_answer(self, video: str | Path, run: str | Path = "", sample_frames: int = 8) -> Path:
        """Compute ``video``'s whole answer by ``run`` (default: the first listed) and keep it, so
        that the next request for the same video and model answers at once. For the demo's own
        examples only: the demo never keeps what visitors upload."""
        predictor = self._load("reaction", run)
        key = self._answer_key(video, predictor, feature_config(predictor.config, self.max_video_seconds), sample_frames)
        if load_answer(self.answers, key) is not None:
            return self.answers / key
        *_, result = self.analyse_reaction_steps(video, run, sample_frames)
        fields = {k: v for k, v in vars(result).items() if k != "kept"}
        return save_answer(self.answers, key, fields)

    def warm_up(self) -> None:
        """Load the first listed reaction model (and the libraries it needs) and hash its weights,
        so the first request pays for neither; nothing happens when there is no run yet."""
        try:
            self._model_digest(self._load("reaction", ""))
        except IPEError as err:  # no run, or a broken one: the page says so when it is used
            log.info("nothing to warm up: %s", err)

    def _model_digest(self, predictor: Any) -> str:
        weights = Path(predictor.folder) / "model.safetensors"
        stamp = (str(predictor.folder), weights.stat().st_mtime if weights.is_file() else 0.0)
        with self._lock:
            digest = self._model_digests.get(stamp)
        if digest is None:  # hashing the weights once per version: a full-width C3D is ~300 MB
            digest = model_digest(Path(predictor.folder))
            with self._lock:
                self._model_digests[stamp] = digest
        return digest

    def _answer_key(self, video: str | Path, predictor: Any, config: Any, sample_frames: int) -> str:
        return answer_key(video, self._model_digest(predictor), (config, sample_frames, self.max_video_seconds))

    def analyse_reaction(self, video: str | Path | None, run: str | Path, *, gradcam: bool = False,
                         sample_frames: int = 8) -> ReactionAnalysis:
        """The whole answer at once; with ``gradcam``, the C3D's Grad-CAM on every clip (slow on a CPU)."""
        *_, result = self.analyse_reaction_steps(video, run, sample_frames)
        if gradcam:
            result.cam_frames = self.clip_gradcam(video, run, None)
        return result

    def clip_gradcam(self, video: str | Path | None, run: str | Path, clip: int | None,
                     per_clip: int = 2) -> list[tuple[np.ndarray, str]]:
        """Grad-CAM of the run's C3D on one clip (1-based; ``None``: every clip) of a video already
        analysed (its features are reused), overlaid on ``per_clip`` of its frames."""
        self._check_video(video)
        predictor = self._load("reaction", run)
        config = feature_config(predictor.config, self.max_video_seconds)
        features = self._video_features(video, config)
        if predictor.c3d_model is None:
            raise CheckpointError(f"the {predictor.variant} model has no pixel model (C3D) to explain; pick a PLM-IPE run")
        count = len(features.clips)
        if count == 0:
            raise MediaError("the video is shorter than one 16-frame clip: the pixel model has nothing to explain")
        if clip is not None and not 1 <= int(clip) <= count:
            raise IPEError(f"clip {clip} does not exist: this video has clips 1 to {count}")
        return reaction_gradcam(predictor, features, per_clip=per_clip, only=None if clip is None else int(clip) - 1)

    def explain_lbe(self, video: str | Path | None, run: str | Path, *, target: str = "predicted") -> Any:
        """Which regions and seconds drove the run's LBE on ``video`` (an ``LBEExplanation``)."""
        from app.lbe_explanation import explain_lbe

        self._check_video(video)
        predictor = self._load("reaction", run)
        features = self._video_features(video, feature_config(predictor.config, self.max_video_seconds))
        return explain_lbe(predictor, features, video, target=target)

    def _check_video(self, video: str | Path | None) -> None:
        """Refuse a missing, too large or too long video from its header alone (nothing decoded)."""
        from core.reaction.video import check_header

        if not video:
            raise MediaError("no video given: upload a reaction video or record one with the webcam")
        duration = check_header(video, self.limits).duration_s
        if duration > self.max_video_seconds:
            raise MediaError(f"the video is {duration:.1f} s long; the demo takes at most {self.max_video_seconds:.0f} s "
                             "(the study records 10 s per outfit): trim it")

    def _video_features(self, video: str | Path | None, config: Any) -> Any:
        """The video's features with ``config`` (the run's ``FeatureConfig``), extracted once per file
        version and settings (the last four are kept)."""
        from core.reaction.descriptor import extract_features

        self._check_video(video)
        path = Path(video)
        stat = path.stat() if path.is_file() else None
        key = (str(path.resolve()), stat.st_mtime, stat.st_size, config) if stat else None
        with self._lock:
            if key in self._features:
                return self._features[key]
        features = extract_features(video, config)
        if key is not None:
            with self._lock:
                self._features[key] = features
                while len(self._features) > 4:
                    self._features.pop(next(iter(self._features)))
        return features

    # ------------------------------------------------------------------ preference
    def analyse_image(self, image: Any, run: str | Path, *, method: str = "gradcam") -> PreferenceAnalysis:
        from models.preference.explain import overlay

        if image is None:
            raise MediaError("no image given: upload a garment image")
        # the model sees its own input size, so a bounded preview loses nothing it uses
        rgb = to_rgb(image, self.limits, max_side=self.limits.preview_side)
        if method not in CAM_METHODS:
            raise IPEError(f"unknown explanation method {method!r}; choose one of {', '.join(CAM_METHODS)}")
        predictor = self._load("preference", run)
        t = time.perf_counter()
        p = float(predictor.predict(rgb))
        heat = predictor.explain(rgb, method=method)
        seconds = time.perf_counter() - t
        return PreferenceAnalysis(p, overlay(rgb, heat), heat, method, seconds)

    # ------------------------------------------------------------------ recommendation
    def recommend_markdown(self, volunteer_id: str, k: int = 10) -> str:
        """Next outfits for a volunteer and the views that drove them (ALS on ratings + reactions)."""
        from core.recommend.service import recommend_for_volunteer

        volunteer_id = (volunteer_id or "").strip()
        if not volunteer_id:
            raise IPEError("enter a volunteer id (e.g. v-1a2b3c4d)")
        source, where, closer = self._interaction_source()
        try:
            recs = recommend_for_volunteer(source, volunteer_id, k)
        finally:
            closer()
        lines = [f"Recommendations for `{volunteer_id}` (data: {where}):", "",
                 "| # | outfit | score | because of your views |", "|---|---|---|---|"]
        for i, (outfit, score, reasons) in enumerate(recs, start=1):
            why = "; ".join(r.describe() for r in reasons) or "popular with everyone (no own views yet)"
            lines.append(f"| {i} | {outfit} | {score:.3f} | {why} |")
        return "\n".join(lines)

    def _interaction_source(self) -> tuple[Any, str, Callable[[], None]]:
        """The store read-only, or (while the collection app holds it) the newest export."""
        from core.errors import StoreError, StoreLockedError
        from core.store import Store, StoreTiming

        try:
            # a person waits on this page: a short turn, then the newest export
            store = Store.open(self.home, read_only=True, timing=StoreTiming(lock_wait_s=DEMO_STORE_WAIT_S))
            return store, "the store", store.close
        except StoreLockedError:
            exports = sorted((self.home.root / "exports").glob("export-*"))
            if not exports:
                raise IPEError("the collection app holds the store; export the dataset from its researcher page "
                               "(or stop it) so the demo can read the ratings") from None
            return ExportSnapshot(exports[-1]), f"export {exports[-1].name}", lambda: None
        except StoreError as err:
            raise IPEError(f"no data to recommend from: {err}") from err


class ExportSnapshot:
    """The two read calls the recommender needs, served from an export's Parquet tables."""

    def __init__(self, folder: Path) -> None:
        import pandas as pd

        self.folder = folder
        self._views = pd.read_parquet(folder / "tables" / "view.parquet")
        self._outfits = pd.read_parquet(folder / "tables" / "outfit.parquet")

    def list_views(self, **_: Any) -> list[dict[str, Any]]:
        return self._views.to_dict("records")

    def list_outfits(self) -> list[dict[str, Any]]:
        return self._outfits.to_dict("records")


def recommend_available() -> bool:
    try:
        import implicit  # noqa: F401
    except ImportError:
        return False
    return True
