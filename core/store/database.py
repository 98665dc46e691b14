"""``Store``: the kit's DuckDB store, assembled from one mixin per responsibility.

Each part lives in its own module and reaches the database only through the connection's
public query API (``rows``, ``one``, ``transaction``, ``snapshot``, ``write_lock``):

- ``connection.py``      open, lock, per-thread cursors, transactions, the query API
- ``catalog_tables.py``  catalogs, items, outfits (reads)
- ``people.py``          volunteers, sessions, outfit coverage
- ``recordings.py``      temporary video files, the atomic commit of a view, reads of views
- ``labeling.py``        labelers and image labels
- ``derived.py``         feature-cache entries, model runs
- ``deletion.py``        withdrawal: a volunteer's files and rows, verified
- ``sweep.py``           files without rows, rows without files, stale temporary files
- ``stats.py``           counts for the researcher page and the CLI

Mixins rather than composed helper objects: the store's public surface (``store.add_volunteer``,
``store.commit_recording``, ...) is one object that callers already use everywhere, and every
part needs the same connection, lock and data home; mixins give each part its own module
without a forwarding method per call.
"""
from __future__ import annotations

from core.store.catalog_tables import CatalogTables
from core.store.connection import utcnow
from core.store.deletion import Deletion
from core.store.derived import DerivedTables
from core.files import TEMP_PREFIX, sha256_file
from core.store.labeling import ANSWERS, LabelTables
from core.store.recordings import VIEW_STATUSES, RecordingTables
from core.store.stats import Stats
from core.store.sweep import Sweep

__all__ = ["ANSWERS", "TEMP_PREFIX", "VIEW_STATUSES", "Store", "sha256_file", "utcnow"]


class Store(CatalogTables, RecordingTables, LabelTables, DerivedTables, Deletion, Sweep, Stats):
    """The kit's database. Open with :meth:`Store.open`; use as a context manager."""
