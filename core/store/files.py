"""Files beside the store: the kit's one implementation lives in ``core/files.py``."""
from core.files import TEMP_PREFIX, fsync_dir, fsync_file, sha256_file

__all__ = ["TEMP_PREFIX", "fsync_dir", "fsync_file", "sha256_file"]
