"""The demo's examples (app/demo_examples.py): real clips, a generated one, catalog and Fashion-MNIST images."""
from __future__ import annotations

from core.media_limits import MediaLimits
from core.reaction.video import check_header
from app.demo_examples import REAL_SECONDS, examples_folder, preference_examples, reaction_examples
from data.faces import pyfeat_data_dir


def test_reaction_examples_are_made_once_under_the_data_home(home) -> None:
    examples = reaction_examples(home)
    expected = 3 if pyfeat_data_dir() is not None else 1
    assert len(examples) == expected and examples[-1][1].startswith("generated")
    for path, _ in examples:
        assert path.parent == examples_folder(home)
        assert 1.0 < check_header(path, MediaLimits()).duration_s <= REAL_SECONDS + 0.1
    if expected == 3:  # the 19.7 s Pexels clip is cut to the study's 10 s
        assert check_header(examples[1][0], MediaLimits()).duration_s > REAL_SECONDS - 0.5
    stamps = [path.stat().st_mtime_ns for path, _ in examples]
    assert [p.stat().st_mtime_ns for p, _ in reaction_examples(home)] == stamps  # a second call makes nothing


def test_preference_examples_are_catalog_and_fashion_mnist_images(home) -> None:
    from PIL import Image

    from data.demo_catalog import generate_demo_catalog

    generate_demo_catalog(home.root / "catalog" / "demo-catalog", seed=0)
    examples = preference_examples(home)
    captions = [caption for _, caption in examples]
    assert sum(c.startswith("catalog:") for c in captions) == 3
    assert captions[3:] == ["Fashion-MNIST: Ankle boot", "Fashion-MNIST: Pullover", "Fashion-MNIST: Trouser"]
    assert Image.open(examples[-1][0]).size == (112, 112)
