"""Shared builders for store tests: a tiny real catalog, volunteers, fake recordings."""
from __future__ import annotations

import csv
import subprocess
import sys
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Iterator

from PIL import Image

from core.collection.catalog import import_catalog
from core.store import Store, utcnow

REPO = Path(__file__).resolve().parents[1]
CONSENT = {"version": "test-1", "recording": True, "training": True, "publication": False}


def write_catalog(folder: Path, n_tops: int = 3, n_bottoms: int = 3, outfits: list[tuple[str, str]] | None = None) -> Path:
    """A small catalog folder with real PNG files of distinct colours."""
    (folder / "tops").mkdir(parents=True, exist_ok=True)
    (folder / "bottoms").mkdir(parents=True, exist_ok=True)
    rows = []
    for kind, n in (("top", n_tops), ("bottom", n_bottoms)):
        for i in range(n):
            item_id = f"{kind[0]}{i}"
            path = f"{kind}s/{item_id}.png"
            colour = (40 * i + 10, 200 if kind == "top" else 20, 90)
            Image.new("RGB", (32, 32), colour).save(folder / path)
            rows.append({"item_id": item_id, "kind": kind, "path": path, "color": str(colour)})
    with open(folder / "items.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["item_id", "kind", "path", "color"])
        writer.writeheader()
        writer.writerows(rows)
    pairs = outfits if outfits is not None else [(f"t{i}", f"b{j}") for i in range(n_tops) for j in range(n_bottoms)]
    with open(folder / "outfits.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["outfit_id", "top_id", "bottom_id"])
        for k, (top, bottom) in enumerate(pairs):
            writer.writerow([f"o{k}", top, bottom])
    return folder


def store_with_catalog(home, tmp_path: Path) -> Store:
    store = Store.open(home)
    import_catalog(store, write_catalog(tmp_path / "cat"))
    return store


def store_with_six_least_covered(home, tmp_path: Path) -> Store:
    """9 outfits; o0..o2 rated once, o3..o8 never: the six least covered (session planning tests)."""
    store = store_with_catalog(home, tmp_path)
    rater = store.add_volunteer(age_band="25-34", gender="female", consent=CONSENT)
    sid = store.start_session(rater["volunteer_id"])
    for pos in range(3):
        commit_view(store, sid, f"o{pos}", pos)
    store.finish_session(sid)
    return store


def fake_recording(store: Store, payload: bytes = b"\x00video-bytes") -> Path:
    temp = store.new_video_tempfile()
    temp.write_bytes(payload)
    return temp


def commit_view(store: Store, session_id: str, outfit_id: str, position: int, rating: int = 70, payload: bytes | None = None) -> dict:
    shown = utcnow()
    return store.commit_recording(
        session_id=session_id, outfit_id=outfit_id, position=position,
        temp_video=fake_recording(store, payload or f"video {session_id} {position}".encode()),
        rating=rating, status="ok", shown_at=shown, rated_at=shown + timedelta(seconds=3),
        video_meta={"frames": 300, "fps": 30.0, "duration_s": 10.0, "width": 640, "height": 480},
    )


@contextmanager
def store_held_elsewhere(home) -> Iterator[subprocess.Popen]:
    """Another process holds the store read-write meanwhile, in the middle of one long unit of work
    (the app holds it only while it works: an idle one lets a waiting process in)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys,time; from core.store import Store; s=Store.open(sys.argv[1]); "
         "h=s.held(); h.__enter__(); print('ready', flush=True); time.sleep(60)", str(home.root)],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        yield holder
    finally:
        holder.kill()
        holder.wait()
