"""The store: one DuckDB file (processes take turns on it), its schema, and the files beside it.

- ``database.py``   ``Store``, assembled from the parts below (see its docstring)
- ``connection.py`` open, cursors, transactions and the public query API
- ``lease.py``      holding the file only while working; waiting, bounded, for another process
- ``pg.py``         the same store on a PostgreSQL server (``IPE_STORE_URL``)
- ``catalog_tables.py``, ``people.py``, ``recordings.py``, ``labeling.py``, ``derived.py``:
                    the tables' reads and writes; ``recordings.py`` holds the atomic commit
- ``reservations.py`` the outfits open sessions hold, so servers planning at once differ
- ``deletion.py``, ``sweep.py``, ``stats.py``: withdrawal, the file/row sweep, counts
- ``files.py``      hashing and fsync
- ``home_files.py`` the rule for paths into the data home, atomic copies into it
- ``migrations.py`` the versioned schema
- ``export.py``     export to Parquet + files + manifest
- ``manifest.py``   the export's manifest: format, checks (an export is untrusted input)
- ``importer.py``   import an export into an empty store
- ``runs.py``       trained run folders on disk (no torch, no store)

May import: ``core.errors``, ``core.paths``, ``core.labels``, duckdb and (``pg.py``, lazily) psycopg.
Nothing else of the kit.
"""
from core.store.database import Store, sha256_file, utcnow
from core.store.lease import StoreTiming

__all__ = ["Store", "StoreTiming", "sha256_file", "utcnow"]
