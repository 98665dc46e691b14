"""Processes taking turns on the store file: idle release, the queue, reopening (real files, real processes)."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from core.store import Store, StoreTiming
from tests.conftest import REPO
from tests.store_helpers import CONSENT, commit_view, store_with_catalog

pytestmark = pytest.mark.duckdb_only  # turns on the DuckDB file; a PostgreSQL server needs none

COUNT_CHILD = ("import sys; from core.store import Store, StoreTiming; "
               "s = Store.open(sys.argv[1], timing=StoreTiming(lock_wait_s=60)); print(s.count('view')); s.close()")


def test_an_idle_store_lets_go_of_the_file_and_opens_it_again_on_the_next_query(home, tmp_path) -> None:
    with store_with_catalog(home, tmp_path) as setup:
        vol = setup.add_volunteer(age_band="18-24", gender="female", consent=CONSENT)
        sid = setup.start_session(vol["volunteer_id"])
    with Store.open(home, timing=StoreTiming(idle_release_s=0.1)) as store:
        commit_view(store, sid, "o0", 0)
        deadline = time.monotonic() + 30
        while store.connected and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not store.connected  # released without anyone asking
        commit_view(store, sid, "o1", 1)  # and reopened by the next unit of work
        assert store.count("view") == 2


def test_a_holder_with_a_long_idle_time_lets_a_queued_process_in(home, tmp_path) -> None:
    store_with_catalog(home, tmp_path).close()
    # the holder would keep the idle file for an hour; the other process may wait a minute at most
    with Store.open(home, timing=StoreTiming(idle_release_s=3600)) as store:
        vol = store.add_volunteer(age_band="18-24", gender="male", consent=CONSENT)
        commit_view(store, store.start_session(vol["volunteer_id"]), "o0", 0)
        assert store.connected
        child = subprocess.run([sys.executable, "-c", COUNT_CHILD, str(home.root)], cwd=REPO, capture_output=True,
                               text=True, timeout=300)
        assert child.returncode == 0, child.stderr
        assert child.stdout.strip() == "1"  # it read what the holder had committed
        assert not store.connected  # the holder saw it queued and let go
        assert store.count("view") == 1  # and takes the file back when it needs it


def test_a_unit_of_work_is_never_cut_by_the_release(home, tmp_path) -> None:
    """A snapshot outlasting the idle time keeps its connection: the release waits for the unit to end."""
    store_with_catalog(home, tmp_path).close()
    with Store.open(home, timing=StoreTiming(idle_release_s=0.01)) as store:
        with store.snapshot():
            first = store.count("outfit")
            time.sleep(0.2)
            assert store.connected and store.count("outfit") == first
