"""Bring-your-own videos: a folder or a CSV of reaction videos, read and checked before any work.

Accepted inputs (``python -m app extract --videos DIR_OR_CSV``):

- a CSV with a ``path`` column and a ``label`` column (a class name — negative / neutral /
  positive — or 0..2; ``class`` is accepted for ``label``, so the synthetic generator's
  ``manifest.csv`` works as it is), and optionally ``video_id``, ``volunteer_id``, ``fold``,
  ``gender``, ``session``. Relative paths are relative to the CSV's folder.
- a folder: ``DIR/<label>/*.mp4`` (one sub-folder per class, as image datasets are laid out), or
  a flat folder of videos, which gives unlabelled entries (fine for prediction, refused by training).

Every problem of every row is collected and reported at once (:class:`VideoListError`), so a
researcher fixes the list in one pass and nothing is extracted from a list that has an error.
"""
from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from core.errors import IPEError
from core.labels import CLASS_NAMES

VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv", ".avi", ".m4v")
# The feature manifest that ``extract --videos`` writes and ``train/evaluate/compare --manifest`` read.
FEATURE_MANIFEST_COLUMNS = ("video_id", "volunteer_id", "fold", "label", "features_npz")
MAX_ROWS = 100_000
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class VideoListError(IPEError):
    """The video list has problems; ``problems`` lists every one (row and reason)."""

    def __init__(self, source: Path, problems: list[str]) -> None:
        self.problems = problems
        shown = "\n  ".join(problems[:20]) + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else "")
        super().__init__(f"{source}: {len(problems)} problem(s); nothing was extracted:\n  {shown}")


@dataclass(frozen=True)
class VideoEntry:
    video_id: str
    path: Path
    label: int | None          # index into core.labels.CLASS_NAMES; None: unlabelled
    volunteer_id: str
    fold: str | None = None    # as given; None: the caller assigns one
    gender: str = "unknown"
    session: str = "1"


def parse_label(value: str) -> int:
    """A class name or 0..2 -> class index (ValueError with the accepted forms otherwise)."""
    value = value.strip()
    if value in CLASS_NAMES:
        return CLASS_NAMES.index(value)
    if value.isdigit() and int(value) < len(CLASS_NAMES):
        return int(value)
    raise ValueError(f"label {value!r} is neither a class name ({', '.join(CLASS_NAMES)}) nor 0..{len(CLASS_NAMES) - 1}")


def read_video_list(source: str | Path) -> list[VideoEntry]:
    """The entries of a CSV or a folder (see the module docstring); VideoListError on any problem."""
    source = Path(source)
    if source.is_dir():
        return _from_folder(source)
    if source.is_file() and source.suffix.lower() == ".csv":
        return _from_csv(source)
    raise VideoListError(source, ["not a folder of videos or a .csv file"])


def _from_folder(folder: Path) -> list[VideoEntry]:
    entries: list[VideoEntry] = []
    problems: list[str] = []
    subdirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    labelled = [d for d in subdirs if d.name in CLASS_NAMES]
    unknown = [d.name for d in subdirs if d.name not in CLASS_NAMES]
    if labelled and unknown:
        problems.append(f"sub-folders must be class names ({', '.join(CLASS_NAMES)}); found {', '.join(unknown)}")
    groups = [(CLASS_NAMES.index(d.name), d) for d in labelled] if labelled else [(None, folder)]
    for label, directory in groups:
        for path in sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES):
            vid = _safe_id(path.stem)
            entries.append(VideoEntry(vid, path.resolve(), label, volunteer_id=vid))
    if not entries:
        problems.append(f"no video files ({', '.join(VIDEO_SUFFIXES)}) found")
    _check_unique(entries, problems)
    if problems:
        raise VideoListError(folder, problems)
    return entries


def _from_csv(path: Path) -> list[VideoEntry]:
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = set(reader.fieldnames or ())
            rows = []
            for row in reader:
                rows.append(row)
                if len(rows) > MAX_ROWS:
                    raise VideoListError(path, [f"more than {MAX_ROWS} rows; split the list"])
    except (UnicodeDecodeError, csv.Error) as err:
        raise VideoListError(path, [f"not a readable UTF-8 CSV ({err})"]) from err
    label_col = "label" if "label" in columns else "class" if "class" in columns else None
    missing = [c for c, ok in (("path", "path" in columns), ("label", label_col is not None)) if not ok]
    if missing:
        raise VideoListError(path, [f"missing column(s) {', '.join(missing)}; columns needed: path,label "
                                    "(optional: video_id,volunteer_id,fold,gender,session)"])
    entries: list[VideoEntry] = []
    problems: list[str] = []
    for n, row in enumerate(rows, start=2):  # row 1 is the header
        where = f"row {n}"
        raw_path = (row.get("path") or "").strip()
        video = Path(raw_path) if Path(raw_path).is_absolute() else path.parent / raw_path
        if not raw_path:
            problems.append(f"{where}: empty path")
            continue
        if not video.is_file():
            problems.append(f"{where}: {raw_path} does not exist")
            continue
        try:
            label = parse_label(row.get(label_col) or "")
        except ValueError as err:
            problems.append(f"{where}: {err}")
            continue
        vid = (row.get("video_id") or "").strip() or _safe_id(video.stem)
        volunteer = (row.get("volunteer_id") or "").strip() or vid
        bad_ids = [f"{name} {value!r}" for name, value in (("video_id", vid), ("volunteer_id", volunteer))
                   if not _ID.match(value)]
        if bad_ids:
            problems.append(f"{where}: {', '.join(bad_ids)} must be 1-128 letters, digits, '.', '_' or '-'")
            continue
        fold = (row.get("fold") or "").strip() or None
        entries.append(VideoEntry(vid, video.resolve(), label, volunteer, fold,
                                  (row.get("gender") or "unknown").strip() or "unknown",
                                  (row.get("session") or "1").strip() or "1"))
    if not rows:
        problems.append("no rows")
    _check_unique(entries, problems)
    if problems:
        raise VideoListError(path, problems)
    return entries


def _check_unique(entries: list[VideoEntry], problems: list[str]) -> None:
    for vid, count in Counter(e.video_id for e in entries).items():
        if count > 1:
            problems.append(f"video_id {vid!r} appears {count} times; give each video its own id")


def _safe_id(stem: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.") or "video"
    return cleaned[:128]


def assign_folds(entries: list[VideoEntry], *, test_fraction: float = 0.2, seed: int = 0) -> dict[str, str]:
    """video_id -> fold: the folds given in the list, else the §4.1 split by volunteer
    (``core.collection.splits.make_volunteer_split``); a list with folds on some rows only is refused."""
    from core.collection.splits import RosterEntry, make_volunteer_split

    given = [e for e in entries if e.fold]
    if given and len(given) != len(entries):
        raise VideoListError(Path("."), [f"{len(given)} of {len(entries)} rows have a fold: give every row one, or none"])
    if given:
        return {e.video_id: str(e.fold) for e in entries}
    sessions: dict[str, set[str]] = {}
    genders: dict[str, str] = {}
    for e in entries:
        sessions.setdefault(e.volunteer_id, set()).add(e.session)
        genders.setdefault(e.volunteer_id, e.gender)
    roster = [RosterEntry(v, genders[v], len(s)) for v, s in sessions.items()]
    by_volunteer = make_volunteer_split(roster, test_fraction=test_fraction, seed=seed)
    return {e.video_id: by_volunteer[e.volunteer_id] for e in entries}
