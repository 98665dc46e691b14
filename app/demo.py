"""The Gradio demo: only the interface. Prediction and explanation live in ``app/serving.py``.

Run it with ``python -m app.demo [--host 127.0.0.1] [--port 7860]`` (``scripts/run.sh``
starts it beside the Streamlit app). It never writes to the DuckDB store: it reads
trained runs from ``<data home>/runs`` (a run is named by its folder there, never by a server
path); DEMO runs (``python -m app demo-models``) come first and are what the examples
(``app/demo_examples.py``, made once at start) run with by default. Nothing about the runs is
in the page until it loads: behind ``--auth`` the login page says nothing about the server, and
sign-in tries back off exponentially per client address (``app/login_throttle.py``).
"""
from __future__ import annotations

import argparse
import os
import threading
from pathlib import Path
from typing import Any, Iterator

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402  (the env var above must be set before the import)

from core.errors import IPEError  # noqa: E402
from core.labels import CLASS_NAMES  # noqa: E402
from core.media_limits import guard_pil  # noqa: E402
from core.paths import DataHome  # noqa: E402
from app import demo_rendering, serving  # noqa: E402
from app.login_throttle import LoginThrottle  # noqa: E402

NO_RUN = "(no trained run yet)"
LOADING = [("(loading…)", "")]  # what the page holds before it loads: nothing about the server
MAX_UPLOAD = "200mb"


def _choices(service: serving.DemoService, family: str) -> list[tuple[str, str]]:
    runs = service.runs(family)
    return [(run.label, run.value) for run in runs] or [(NO_RUN, "")]


def _visitor_error(err: IPEError, *uploads: Any) -> gr.Error:
    """The error as the visitor should read it: an upload is named by its file name, not by the
    server's temporary path."""
    text = str(err)
    for upload in uploads:
        if isinstance(upload, (str, Path)) and str(upload).strip():
            text = text.replace(str(upload), Path(str(upload)).name)
    return gr.Error(text, duration=None)


def _examples(items: list[tuple[Path, str]], target: Any, elem_id: str, label: str) -> gr.Examples | None:
    if not items:
        return None
    return gr.Examples([[str(path)] for path, _ in items], [target], label=label, elem_id=elem_id,
                       example_labels=[caption for _, caption in items])


def build_demo(service: serving.DemoService, reaction_examples: list[tuple[Path, str]] = (),
               preference_examples: list[tuple[Path, str]] = ()) -> gr.Blocks:
    """Build the Blocks app around ``service`` (which owns the models and their cache); the examples
    are ``(file, caption)`` pairs under a folder the demo serves (``app/demo_examples.py``)."""

    def refresh_reaction() -> Any:
        choices = _choices(service, "reaction")
        return gr.Dropdown(choices=choices, value=choices[0][1])

    def refresh_preference() -> Any:
        choices = _choices(service, "preference")
        return gr.Dropdown(choices=choices, value=choices[0][1])

    def on_reaction(video: str | None, run: str, history: list) -> Iterator[tuple]:
        """The landmark model's answer and the annotated frames first, the pixel model's after."""
        try:
            for result in service.analyse_reaction_steps(video, run):
                if result.complete:
                    fused = result.probabilities("fused")
                    history = (history + [f"{Path(str(video)).name}: {max(fused, key=fused.get)} ({result.variant})"])[-10:]
                yield (
                    result.probabilities("pbe") or None,
                    result.probabilities("lbe") or None,
                    result.probabilities("fused") or None,
                    result.annotated_frames,
                    result.timeline_table(),
                    [],
                    result.summary_markdown(),
                    history,
                    "Your recent predictions (this browser session only): " + "; ".join(history),
                )
        except IPEError as err:
            raise _visitor_error(err, video) from err

    def on_gradcam(video: str | None, run: str, clip: float | None) -> list:
        try:
            return service.clip_gradcam(video, run, int(clip or 1), per_clip=4)
        except IPEError as err:
            raise _visitor_error(err, video) from err

    def on_explain_lbe(video: str | None, run: str, target: str) -> tuple:
        try:
            result = service.explain_lbe(video, run, target=target)
        except IPEError as err:
            raise _visitor_error(err, video) from err
        return result.face, result.timeline, result.table(), result.summary_markdown()

    def on_image(image: Any, run: str, method: str) -> tuple:
        try:
            result = service.analyse_image(image, run, method=method)
        except IPEError as err:
            raise _visitor_error(err, image) from err
        return result.probabilities(), result.overlay, result.summary_markdown()

    def on_models(extra_path: str) -> tuple:
        try:
            runs = service.describe_all((extra_path or "").strip() or None)
        except IPEError as err:
            raise gr.Error(str(err), duration=None) from err
        return demo_rendering.runs_markdown(runs), demo_rendering.run_figures(runs)

    def on_load() -> tuple:
        """The run lists, filled in once the page (after any login) has loaded; the Models tab's
        table and figures are made when that tab is opened (drawing them is the slow part)."""
        return refresh_reaction(), refresh_preference()

    def on_recommend(volunteer_id: str) -> str:
        try:
            return service.recommend_markdown(volunteer_id)
        except IPEError as err:
            raise gr.Error(str(err), duration=None) from err

    with gr.Blocks(title="Implicit preference estimation — demo", analytics_enabled=False) as demo:
        gr.Markdown(
            "# Implicit preference estimation — demo\n"
            "Trained models from this server's data home (`runs/`). "
            "Nothing you upload is stored beyond this server's temporary files."
        )
        with gr.Tab("Reaction"):
            with gr.Row():
                with gr.Column():
                    video = gr.Video(
                        label="Reaction video (upload or record; up to "
                        f"{service.max_video_seconds:.0f} s)",
                        sources=["upload", "webcam"],
                        webcam_options=gr.WebcamOptions(mirror=False),
                        elem_id="reaction-video",
                    )
                    reaction_run = gr.Dropdown(
                        label="Trained PLM-IPE run", choices=LOADING, value=LOADING[0][1],
                        elem_id="reaction-run", allow_custom_value=True,  # the server checks every name; "" = the first run
                    )
                    with gr.Row():
                        reaction_go = gr.Button("Predict", variant="primary", elem_id="reaction-go")
                        reaction_refresh = gr.Button("Refresh runs")
                    reaction_ex = _examples(reaction_examples, video, "reaction-examples",
                                            "Examples (a click predicts with the run above: the DEMO model by default)")
                with gr.Column():
                    pbe = gr.Label(label="PBE (pixels, C3D)", num_top_classes=3, elem_id="pbe-probs")
                    lbe = gr.Label(label="LBE (landmarks, LSTM)", num_top_classes=3, elem_id="lbe-probs")
                    fused = gr.Label(label="PLM-IPE fused", num_top_classes=3, elem_id="fused-probs")
                    reaction_summary = gr.Markdown(elem_id="reaction-summary")
            history = gr.State([])  # per-user: the recent predictions of this browser session
            recent = gr.Markdown()
            frames = gr.Gallery(label="Landmarks, regions and flow on sampled frames", columns=4, height=320,
                                elem_id="reaction-frames")
            timeline = gr.Dataframe(label="Pixel model per clip (16 frames each)", interactive=False)
            with gr.Accordion("Grad-CAM of the C3D on one clip (on demand: seconds per clip on a CPU)", open=False):
                with gr.Row():
                    cam_clip = gr.Number(label="Clip (see the table above)", value=1, minimum=1, precision=0,
                                         elem_id="cam-clip")
                    cam_go = gr.Button("Grad-CAM of this clip", elem_id="cam-go")
                cams = gr.Gallery(label="Grad-CAM of the C3D", columns=4, height=320, elem_id="cam-frames")
            with gr.Accordion("Which face regions and moments drove the LBE (integrated gradients)", open=False):
                gr.Markdown("Computed when you ask, on the video analysed above (a few seconds on a CPU). "
                            "Method: `docs/attribution.md`.")
                with gr.Row():
                    lbe_target = gr.Dropdown(label="Class to explain", choices=["predicted", *CLASS_NAMES],
                                             value="predicted", elem_id="lbe-target")
                    lbe_go = gr.Button("Explain the LBE", elem_id="lbe-explain")
                with gr.Row():
                    lbe_face = gr.Image(label="Share of the decision per face region", type="numpy",
                                        interactive=False, elem_id="lbe-face")
                    lbe_timeline = gr.Image(label="Share per second", type="numpy", interactive=False,
                                            elem_id="lbe-timeline")
                lbe_table = gr.Dataframe(headers=["region", "share"], label="Regions that weighed most",
                                         interactive=False)
                lbe_summary = gr.Markdown(elem_id="lbe-summary")
            reaction_outputs = [pbe, lbe, fused, frames, timeline, cams, reaction_summary, history, recent]
            reaction_go.click(on_reaction, [video, reaction_run, history], reaction_outputs,
                              concurrency_limit=1, concurrency_id="models")
            cam_go.click(on_gradcam, [video, reaction_run, cam_clip], [cams], concurrency_limit=1,
                         concurrency_id="models")
            if reaction_ex is not None:  # a click fills the video in and predicts
                reaction_ex.load_input_event.then(on_reaction, [video, reaction_run, history], reaction_outputs,
                                                  concurrency_limit=1, concurrency_id="models")
            lbe_go.click(
                on_explain_lbe, [video, reaction_run, lbe_target], [lbe_face, lbe_timeline, lbe_table, lbe_summary],
                concurrency_limit=1, concurrency_id="models",
            )
            reaction_refresh.click(refresh_reaction, None, reaction_run)

        with gr.Tab("Preference"):
            with gr.Row():
                with gr.Column():
                    # a file path, not pixels: the size is checked from the header before decoding
                    image = gr.Image(label="Garment image", type="filepath", image_mode=None, sources=["upload"],
                                     elem_id="pref-image")
                    pref_run = gr.Dropdown(
                        label="Labeler's preference model", choices=LOADING, value=LOADING[0][1],
                        elem_id="pref-run", allow_custom_value=True,  # the server checks every name; "" = the first run
                    )
                    method = gr.Radio(
                        label="Explanation method", choices=list(serving.CAM_METHODS), value="gradcam"
                    )
                    with gr.Row():
                        pref_go = gr.Button("Predict", variant="primary", elem_id="pref-go")
                        pref_refresh = gr.Button("Refresh runs")
                    pref_ex = _examples(preference_examples, image, "pref-examples",
                                        "Examples (a click predicts with the run above)")
                with gr.Column():
                    pref_probs = gr.Label(label="Preference", num_top_classes=2, elem_id="pref-probs")
                    overlay = gr.Image(label="Heat map", type="numpy", interactive=False, elem_id="pref-cam")
                    pref_summary = gr.Markdown()
            pref_go.click(
                on_image, [image, pref_run, method], [pref_probs, overlay, pref_summary],
                concurrency_limit=1, concurrency_id="models",
            )
            if pref_ex is not None:
                pref_ex.load_input_event.then(on_image, [image, pref_run, method], [pref_probs, overlay, pref_summary],
                                              concurrency_limit=1, concurrency_id="models")
            pref_refresh.click(refresh_preference, None, pref_run)

        with gr.Tab("Models") as models_tab:
            extra = gr.Textbox(label="Show another run or checkpoint folder of this data home's runs/ "
                                     "(its id or path; optional)", elem_id="extra-run")
            models_go = gr.Button("List runs", elem_id="models-go")
            runs_md = gr.Markdown(elem_id="runs-table")
            figures = gr.Gallery(label="Confusion matrices and curves", columns=3)
            models_go.click(on_models, [extra], [runs_md, figures])
            models_tab.select(on_models, [extra], [runs_md, figures])

        if serving.recommend_available():
            with gr.Tab("Recommend"):
                gr.Markdown("Next outfits for a volunteer, and the reactions that drove them.")
                volunteer = gr.Textbox(label="Volunteer id")
                rec_go = gr.Button("Recommend")
                rec_out = gr.Markdown()
                rec_go.click(on_recommend, [volunteer], [rec_out])
        demo.load(on_load, None, [reaction_run, pref_run])
    return demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--home", default=None, help="data home (default $IPE_HOME or ./var)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument(
        "--auth", default=os.environ.get("IPE_DEMO_AUTH"),
        help="optional 'user:password' for the demo (default $IPE_DEMO_AUTH; none = open on this host)",
    )
    args = parser.parse_args(argv)
    service = serving.DemoService(DataHome.resolve(args.home))
    guard_pil(service.limits)  # PIL refuses to decode images far over the limit, wherever it is called
    from app.demo_examples import examples_folder, keep_example_answers, preference_examples, reaction_examples

    reactions = reaction_examples(service.home)
    service.warm_up()  # the first run's model and its imports are loaded before the page is served
    # the examples' answers are kept once (by demo-models, or here in the background) so a click answers at once
    threading.Thread(target=keep_example_answers, args=(service, [path for path, _ in reactions]),
                     name="keep-example-answers", daemon=True).start()
    demo = build_demo(service, reactions, preference_examples(service.home))
    auth = tuple(args.auth.split(":", 1)) if args.auth else None
    demo.queue(default_concurrency_limit=1, max_size=32)
    demo.launch(
        server_name=args.host, server_port=args.port, auth=auth, share=False,
        footer_links=[], allowed_paths=[str(service.runs_root), str(examples_folder(service.home)), str(service.home.root / "catalog")], show_error=True, max_file_size=MAX_UPLOAD,
        app_kwargs={"middleware": [LoginThrottle.middleware()]},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
