"""A DEMO catalog drawn by code: garment silhouettes in varied shapes, colours and patterns.

These are not real garments; they exist so a first run has something to rate, and so
tests have a catalog with known attributes (a simulated volunteer can "prefer warm
colours"). Every image carries a small "DEMO" mark, and the folder a ``DEMO.txt``.

    python -m data.demo_catalog OUT_FOLDER [--seed 0]

Output (the catalog folder format of ``core/collection/catalog.py``)::

    tops/<id>.png  bottoms/<id>.png  items.csv  outfits.csv  DEMO.txt

Deterministic: the same seed gives byte-identical files.
"""
from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw

if TYPE_CHECKING:
    from core.recommend.outfit_features import OutfitTable

SIZE = 256
BACKGROUND = (255, 255, 255)

# name -> (rgb, family). Families let simulated volunteers have a colour taste.
PALETTE: dict[str, tuple[tuple[int, int, int], str]] = {
    "red": ((200, 30, 40), "warm"),
    "orange": ((240, 130, 20), "warm"),
    "yellow": ((235, 200, 40), "warm"),
    "pink": ((235, 120, 170), "warm"),
    "burgundy": ((120, 20, 45), "warm"),
    "blue": ((40, 80, 200), "cool"),
    "navy": ((25, 35, 90), "cool"),
    "teal": ((20, 140, 140), "cool"),
    "green": ((40, 150, 60), "cool"),
    "purple": ((120, 60, 170), "cool"),
    "black": ((25, 25, 25), "neutral"),
    "grey": ((130, 130, 130), "neutral"),
    "beige": ((215, 195, 160), "neutral"),
    "brown": ((120, 80, 45), "neutral"),
    "olive": ((110, 115, 50), "neutral"),
}
PATTERNS = ("solid", "stripes", "dots", "checks")
TOP_SHAPES = ("tshirt", "longsleeve", "tank", "hoodie")
BOTTOM_SHAPES = ("trousers", "shorts", "skirt", "wide_trousers")


def _top_polygon(shape: str) -> list[tuple[float, float]]:
    s = SIZE
    if shape == "tank":
        pts = [(0.36, 0.12), (0.44, 0.12), (0.47, 0.22), (0.53, 0.22), (0.56, 0.12), (0.64, 0.12),
               (0.68, 0.35), (0.70, 0.88), (0.30, 0.88), (0.32, 0.35)]
        return [(x * s, y * s) for x, y in pts]
    sleeve_end = {"tshirt": 0.42, "hoodie": 0.86, "longsleeve": 0.86}[shape]
    sleeve_x = {"tshirt": 0.12, "hoodie": 0.10, "longsleeve": 0.12}[shape]
    pts = [(0.38, 0.12), (0.45, 0.16), (0.55, 0.16), (0.62, 0.12), (0.80, 0.20),
           (1 - sleeve_x, sleeve_end), (1 - sleeve_x - 0.1, sleeve_end + 0.03), (0.70, 0.36),
           (0.70, 0.88), (0.30, 0.88), (0.30, 0.36), (sleeve_x + 0.1, sleeve_end + 0.03),
           (sleeve_x, sleeve_end), (0.20, 0.20)]
    return [(x * s, y * s) for x, y in pts]


def _bottom_polygon(shape: str) -> list[tuple[float, float]]:
    s = SIZE
    pts = {
        "trousers": [(0.32, 0.10), (0.68, 0.10), (0.70, 0.92), (0.54, 0.92), (0.50, 0.40), (0.46, 0.92), (0.30, 0.92)],
        "wide_trousers": [(0.33, 0.10), (0.67, 0.10), (0.78, 0.92), (0.54, 0.92), (0.50, 0.42), (0.46, 0.92), (0.22, 0.92)],
        "shorts": [(0.30, 0.18), (0.70, 0.18), (0.74, 0.62), (0.54, 0.62), (0.50, 0.42), (0.46, 0.62), (0.26, 0.62)],
        "skirt": [(0.36, 0.16), (0.64, 0.16), (0.80, 0.74), (0.20, 0.74)],
    }[shape]
    return [(x * s, y * s) for x, y in pts]


def _pattern_layer(pattern: str, base: tuple[int, int, int], rng: random.Random) -> Image.Image:
    layer = Image.new("RGB", (SIZE, SIZE), base)
    if pattern == "solid":
        return layer
    draw = ImageDraw.Draw(layer)
    accent = tuple(int(c * 0.45 + 255 * 0.55) if sum(base) < 300 else int(c * 0.55) for c in base)
    step = rng.choice((14, 18, 24))
    if pattern == "stripes":
        width = step // 2
        for y in range(0, SIZE, step):
            draw.rectangle([0, y, SIZE, y + width - 1], fill=accent)
    elif pattern == "dots":
        r = max(2, step // 5)
        for y in range(step // 2, SIZE, step):
            for x in range(step // 2 + (y // step % 2) * step // 2, SIZE, step):
                draw.ellipse([x - r, y - r, x + r, y + r], fill=accent)
    elif pattern == "checks":
        for y in range(0, SIZE, step):
            for x in range(0, SIZE, step):
                if (x // step + y // step) % 2:
                    draw.rectangle([x, y, x + step - 1, y + step - 1], fill=accent)
    return layer


def draw_garment(kind: str, shape: str, color: str, pattern: str, rng: random.Random) -> Image.Image:
    """One garment image: a filled silhouette with a pattern, outline and a DEMO mark."""
    rgb = PALETTE[color][0]
    polygon = _top_polygon(shape) if kind == "top" else _bottom_polygon(shape)
    mask = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(mask).polygon(polygon, fill=255)
    image = Image.new("RGB", (SIZE, SIZE), BACKGROUND)
    image.paste(_pattern_layer(pattern, rgb, rng), (0, 0), mask)
    draw = ImageDraw.Draw(image)
    draw.polygon(polygon, outline=(40, 40, 40))
    if kind == "top" and shape == "hoodie":
        draw.arc([0.40 * SIZE, 0.06 * SIZE, 0.60 * SIZE, 0.22 * SIZE], 180, 360, fill=(40, 40, 40), width=3)
    draw.text((4, SIZE - 12), "DEMO", fill=(150, 150, 150))
    return image


def generate_demo_catalog(
    folder: str | Path, *, seed: int = 0, n_tops: int = 32, n_bottoms: int = 32, n_outfits: int = 64
) -> Path:
    """Write a demo catalog into ``folder`` (created) and return it."""
    if n_outfits > n_tops * n_bottoms:
        raise ValueError("more outfits than top x bottom pairs")
    folder = Path(folder)
    rng = random.Random(seed)
    colors = sorted(PALETTE)
    rows: list[dict[str, str]] = []
    for kind, count, shapes in (("top", n_tops, TOP_SHAPES), ("bottom", n_bottoms, BOTTOM_SHAPES)):
        (folder / f"{kind}s").mkdir(parents=True, exist_ok=True)
        for i in range(count):
            # cycle shapes and patterns so every combination family is represented, colours shuffled
            shape = shapes[i % len(shapes)]
            pattern = PATTERNS[(i // len(shapes)) % len(PATTERNS)]
            color = colors[(i * 7 + (0 if kind == "top" else 3)) % len(colors)]
            item_id = f"{kind[0]}{i + 1:03d}"
            path = f"{kind}s/{item_id}.png"
            draw_garment(kind, shape, color, pattern, rng).save(folder / path, format="PNG", optimize=False)
            rgb = PALETTE[color][0]
            rows.append({
                "item_id": item_id, "kind": kind, "path": path, "color": color,
                "color_family": PALETTE[color][1], "color_rgb": "#%02x%02x%02x" % rgb,
                "pattern": pattern, "shape": shape,
            })
    with open(folder / "items.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    tops = [r["item_id"] for r in rows if r["kind"] == "top"]
    bottoms = [r["item_id"] for r in rows if r["kind"] == "bottom"]
    pairs: list[tuple[str, str]] = []
    for i in range(n_outfits):  # every top and bottom used about equally, no pair twice
        top = tops[i % len(tops)]
        offset = i // len(tops)
        bottom = bottoms[(i * 5 + offset * 11) % len(bottoms)]
        while (top, bottom) in pairs:
            bottom = bottoms[(bottoms.index(bottom) + 1) % len(bottoms)]
        pairs.append((top, bottom))
    with open(folder / "outfits.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["outfit_id", "top_id", "bottom_id"])
        for i, (top, bottom) in enumerate(pairs, start=1):
            writer.writerow([f"o{i:03d}", top, bottom])
    (folder / "DEMO.txt").write_text(
        "DEMO catalog generated by data/demo_catalog.py (seed %d). The garments are drawn by code;\n"
        "they are not real products. Replace them with `python -m app import-catalog PATH`.\n" % seed
    )
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data.demo_catalog", description="Write the DEMO catalog.")
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(generate_demo_catalog(args.out, seed=args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def demo_outfit_table(folder: str | Path | None = None, *, seed: int = 0) -> OutfitTable:
    """The demo catalog's outfit table (for the recommender), generated into ``folder`` (a temporary
    one when None)."""
    import tempfile

    from core.recommend.outfit_features import load_outfit_table

    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="ipe-demo-catalog-"))
    folder = Path(folder)
    if not (folder / "outfits.csv").exists():
        generate_demo_catalog(folder, seed=seed)
    return load_outfit_table(folder)
