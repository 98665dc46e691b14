"""The store commands, run as a newcomer would: `python -m app ...` in a subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from core.store import Store
from tests.conftest import REPO
from tests.store_helpers import CONSENT, commit_view, write_catalog


def app(home, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", "--home", str(home.root), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})


def test_init_loads_demo_once_and_stats_reads_it(home) -> None:
    first = app(home, "init")
    assert first.returncode == 0, first.stderr
    assert "demo catalog: 64 items and 64 outfits" in first.stdout
    second = app(home, "init")
    assert second.returncode == 0 and "catalog: 64 items, 64 outfits" in second.stdout
    stats = json.loads(app(home, "stats", "--json").stdout)
    assert stats["items"] == 64 and stats["outfits"] == 64 and stats["volunteers"] == 0
    with Store.open(home, read_only=True) as store:
        assert [(c["catalog_id"], c["is_demo"]) for c in store.list_catalogs()] == [("demo-catalog", True)]
        assert all(p["top_path"].startswith(str(home.catalog / "demo-catalog")) for p in store.list_outfits())
    assert sorted(p.name for p in home.root.iterdir() if p.name.startswith(".demo-")) == []  # generator folder gone


def test_import_catalog_errors_are_clear_and_exit_1(home, tmp_path) -> None:
    app(home, "init", "--no-demo")
    bad = write_catalog(tmp_path / "bad")
    (bad / "tops" / "t0.png").write_text("not an image")
    result = app(home, "import-catalog", str(bad))
    assert result.returncode == 1
    assert "\nerror: catalog" in "\n" + result.stderr and "not a readable image" in result.stderr
    assert "Traceback" not in result.stderr
    ok = app(home, "import-catalog", str(write_catalog(tmp_path / "good")))
    assert ok.returncode == 0 and "6 items added" in ok.stdout


def test_split_export_import_commands(home, tmp_path) -> None:
    app(home, "init", "--no-demo")
    with Store.open(home) as store:
        from core.collection.catalog import import_catalog
        import_catalog(store, write_catalog(tmp_path / "cat"))
        for g in ("female", "male", "female", "male", "male"):
            vol = store.add_volunteer(age_band="18-24", gender=g, consent=CONSENT)
            sid = store.start_session(vol["volunteer_id"])
            commit_view(store, sid, "o0", 0)
    split = app(home, "split", "--name", "main", "--seed", "1", "--negative-max", "30", "--positive-min", "70")
    assert split.returncode == 0 and "split 'main'" in split.stdout, split.stderr
    assert app(home, "split", "--name", "main", "--seed", "1").returncode == 0  # same split again: fine
    with Store.open(home, read_only=True) as store:
        from core.collection.splits import load_split, split_info
        info = split_info(store, "main")
        assert info["seed"] == 1 and info["params"]["thresholds"] == {"negative_max": 30, "positive_min": 70}
        from core.labels import LabelThresholds
        from core.collection.splits import split_thresholds
        assert split_thresholds(store, "main") == LabelThresholds(30, 70)
        assert sorted(load_split(store, "main").values()) == ["test", "train", "train", "train", "train"]
    out = tmp_path / "exp"
    exported = app(home, "export", str(out))
    assert exported.returncode == 0, exported.stderr
    other = home.root.parent / "other"
    imported = subprocess.run([sys.executable, "-m", "app", "--home", str(other), "import", str(out)], cwd=REPO,
                              capture_output=True, text=True, timeout=120)
    assert imported.returncode == 0 and "view 5" in imported.stdout, imported.stderr


def test_locked_store_message_from_the_cli(home) -> None:
    app(home, "init", "--no-demo")
    with Store.open(home) as store, store.held():  # a unit of work that outlasts the CLI's wait
        result = app(home, "import-catalog", "/nonexistent", env={"IPE_STORE_LOCK_WAIT_S": "0.5"})
    assert result.returncode == 1 and "another process" in result.stderr
    assert f"PID {os.getpid()}" in result.stderr and "IPE_STORE_LOCK_WAIT_S" in result.stderr


def test_delete_volunteer_command(home, tmp_path) -> None:
    app(home, "init", "--no-demo")
    with Store.open(home) as store:
        from core.collection.catalog import import_catalog
        import_catalog(store, write_catalog(tmp_path / "cat"))
        vol = store.add_volunteer(age_band="18-24", gender="female", consent=CONSENT)
        view = commit_view(store, store.start_session(vol["volunteer_id"]), "o0", 0)
    video = home.root / view["video_path"]
    refused = subprocess.run([sys.executable, "-m", "app", "--home", str(home.root), "delete-volunteer",
                              vol["withdrawal_code"]], cwd=REPO, input="n\n", capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and video.is_file()
    done = app(home, "delete-volunteer", vol["withdrawal_code"], "--yes")
    assert done.returncode == 0 and "verified: True" in done.stdout, done.stderr
    assert not video.exists()
    again = app(home, "delete-volunteer", vol["volunteer_id"], "--yes")
    assert again.returncode == 1 and "no volunteer" in again.stderr
