"""The store: one DuckDB file (one read-write process), its schema, and the files beside it.

- ``database.py``   ``Store``: connection, locking, the tables' reads and writes, atomic recordings
- ``migrations.py`` the versioned schema
- ``export.py``     export to Parquet + files + manifest, import into an empty store
- ``runs.py``       trained run folders on disk (no torch, no store)

May import: ``core.errors``, ``core.paths``, ``core.labels`` and duckdb. Nothing else of the kit.
"""
from core.store.database import Store, sha256_file, utcnow

__all__ = ["Store", "sha256_file", "utcnow"]
