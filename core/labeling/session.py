"""Image preference labeling: the session state machine of one labeler (torch- and UI-free).

What comes next is decided here, not in the page (as Label Studio's ``next_task``): a seeded
shuffled queue of images, subgroups of ``subgroup_size`` separated by an enforced break
(against fatigue), a few repeated "gold" images whose second showing measures the labeler's
self-consistency, answers preferred / not_preferred / skip, an undo stack, response times
(from image shown to answer) with a slow flag (flagged, never dropped; 1 s as in the paper)
and an optional decisive-region click in image fractions.

Times given to the session are seconds on one monotonic clock (``time.monotonic()`` in the
app); response times may instead come from the browser (``response_ms``), which the
Streamlit page does (see annotation/labeling_page.py).
"""
from __future__ import annotations

import hashlib
import os
import random
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from core.errors import IPEError
from core.labeling.image_files import IMAGE_SUFFIXES, image_files

ANSWERS = ("preferred", "not_preferred", "skip")


class LabelingError(IPEError):
    """A labeling action that the session's state does not allow (the message says why)."""


@dataclass(frozen=True)
class LabelingConfig:
    """How a labeling session runs; ``from_env`` reads ``IPE_LABEL_*`` overrides."""

    subgroup_size: int = 50
    break_s: float = 30.0
    slow_threshold_s: float = 1.0  # the paper drops answers slower than 1 s; we flag them
    gold_fraction: float = 0.05  # repeated images, as a share of the queue ...
    gold_min: int = 2  # ... but at least this many ...
    gold_max: int = 10  # ... and at most this many per labeler
    gold_min_gap: int = 5  # a repeat comes at least this many images after its original
    undo_depth: int = 20
    max_images: int | None = None  # label only the first N images of the shuffled set
    seed: int = 0

    def __post_init__(self) -> None:
        if self.subgroup_size < 1:
            raise LabelingError("subgroup_size must be at least 1")
        if self.break_s < 0 or self.slow_threshold_s <= 0:
            raise LabelingError("break_s must be >= 0 and slow_threshold_s > 0")
        if not 0.0 <= self.gold_fraction <= 1.0 or self.gold_min < 0 or self.gold_max < self.gold_min:
            raise LabelingError("need 0 <= gold_fraction <= 1 and 0 <= gold_min <= gold_max")
        if self.undo_depth < 0 or self.gold_min_gap < 1:
            raise LabelingError("undo_depth must be >= 0 and gold_min_gap >= 1")
        if self.max_images is not None and self.max_images < 1:
            raise LabelingError("max_images must be at least 1 (or None for all)")

    def gold_count(self, n_images: int) -> int:
        if n_images <= self.gold_min_gap:
            return 0  # too few images to hide a repeat
        wanted = max(self.gold_min, round(n_images * self.gold_fraction))
        return min(wanted, self.gold_max, n_images)


@dataclass(frozen=True)
class ImageRef:
    """One image to label: where it is, its content hash, and an id to show (item id or file name)."""

    path: str
    sha256: str
    image_id: str


@dataclass(frozen=True)
class QueueEntry:
    position: int
    image: ImageRef
    is_gold: bool  # True on the repeated showing only


@dataclass(frozen=True)
class Answer:
    label_id: str  # UUID, made here so a retried write is idempotent
    position: int
    image: ImageRef
    answer: str
    response_ms: int
    slow: bool
    is_gold: bool
    region_xy: tuple[float, float] | None
    answered_at: datetime


def images_from_items(items: Iterable[Mapping[str, Any]]) -> list[ImageRef]:
    """Catalog items (``Store.list_items()`` rows) as images to label."""
    return [ImageRef(path=str(it["path"]), sha256=str(it["sha256"]), image_id=str(it["item_id"])) for it in items]


def images_from_folder(folder: str | os.PathLike[str], *, recursive: bool = True) -> list[ImageRef]:
    """Every image file under ``folder`` (``core.labeling.image_files``); identical files kept once."""
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise LabelingError(f"{root} is not a folder; give the folder that holds the images to label")
    images = [ImageRef(path=str(p.resolve()), sha256=sha, image_id=str(p.relative_to(root)))
              for p, sha in image_files(root, recursive=recursive)]
    if not images:
        raise LabelingError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found in {root}")
    return images


FASHION_PREFIX = "fashion-mnist:"


def images_from_fashion_mnist(split: str = "train", *, count: int = 1000, seed: int = 0,
                              folder: str | os.PathLike[str] | None = None) -> list[ImageRef]:
    """A seeded subset of ``count`` Fashion-MNIST images (the paper's source domain; the same subset
    for every labeler with the same seed). ``path`` is ``fashion-mnist:<split>/<index>`` and
    ``sha256`` is ``core.labeling.fashion_mnist.image_id`` of the stored bytes, which models/ matches on."""
    from core.labeling.fashion_mnist import image_id, load_fashion_mnist

    if count < 1:
        raise LabelingError("count must be at least 1")
    data = load_fashion_mnist(split, folder)
    chosen = sorted(random.Random(seed).sample(range(len(data)), min(count, len(data))))
    return [ImageRef(path=f"{FASHION_PREFIX}{split}/{i}", sha256=image_id(data.images[i]),
                     image_id=f"fashion-mnist {split} #{i}") for i in chosen]


def fashion_mnist_index(path: str) -> tuple[str, int] | None:
    """(split, index) for a ``fashion-mnist:<split>/<index>`` image path, else None (a file)."""
    if not path.startswith(FASHION_PREFIX):
        return None
    split, _, index = path[len(FASHION_PREFIX):].partition("/")
    if not index.isdigit():
        raise LabelingError(f"bad Fashion-MNIST image reference {path!r}")
    return split, int(index)


def _labeler_rng(config: LabelingConfig, labeler_key: str, image_set: str) -> random.Random:
    # a stable per-labeler order (Python's hash() is salted per process, so hash explicitly)
    digest = hashlib.sha256(f"{config.seed}\0{labeler_key}\0{image_set}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def plan_queue(images: Sequence[ImageRef], config: LabelingConfig, *, labeler_key: str = "",
               image_set: str = "") -> list[QueueEntry]:
    """The labeler's queue: a seeded shuffle (per labeler and image set), cut to ``max_images``,
    with ``gold_count`` repeats inserted at least ``gold_min_gap`` places after their originals."""
    if not images:
        raise LabelingError("the image set is empty")
    rng = _labeler_rng(config, labeler_key, image_set)
    order = list(images)
    rng.shuffle(order)
    if config.max_images is not None:
        order = order[: config.max_images]
    n = len(order)
    n_gold = config.gold_count(n)  # 0 when n <= gold_min_gap
    sources = rng.sample(range(n - config.gold_min_gap), min(n_gold, n - config.gold_min_gap)) if n_gold else []
    slots: list[tuple[ImageRef, bool]] = [(img, False) for img in order]
    # inserting before original index `at` puts the repeat >= gold_min_gap places after its original
    inserts = [(rng.randint(src + config.gold_min_gap, n), order[src]) for src in sorted(sources)]
    for at, img in sorted(inserts, key=lambda t: t[0], reverse=True):
        slots.insert(at, (img, True))
    return [QueueEntry(position=i, image=img, is_gold=gold) for i, (img, gold) in enumerate(slots)]


class LabelStore(Protocol):
    """The part of ``core.store.Store`` that labeling writes to."""

    def add_image_label(self, **kwargs: Any) -> str: ...

    def undo_image_label(self, label_id: str) -> None: ...


@dataclass
class LabelingSession:
    """One labeler working through one queue. ``now`` is seconds on a monotonic clock."""

    queue: list[QueueEntry]
    config: LabelingConfig = field(default_factory=LabelingConfig)
    labeler_id: str = ""
    image_set: str = ""
    answers: list[Answer] = field(default_factory=list)  # the stack, in order; position == len
    shown_at: float | None = None
    break_until: float | None = None  # a pending break (enforced until this time, then resume)
    breaks_served: set[int] = field(default_factory=set)  # subgroup indices whose break is over
    undo_floor: int = 0  # answers below this position cannot be undone (restored or too old)

    @classmethod
    def start(cls, images: Sequence[ImageRef], config: LabelingConfig, *, labeler_id: str,
              image_set: str) -> "LabelingSession":
        return cls(queue=plan_queue(images, config, labeler_key=labeler_id, image_set=image_set),
                   config=config, labeler_id=labeler_id, image_set=image_set)

    # ---------------------------------------------------------------- where we are
    @property
    def position(self) -> int:
        return len(self.answers)

    @property
    def total(self) -> int:
        return len(self.queue)

    @property
    def subgroup_count(self) -> int:
        return -(-self.total // self.config.subgroup_size)

    def subgroup_of(self, position: int) -> int:
        return position // self.config.subgroup_size

    def current(self) -> QueueEntry | None:
        return self.queue[self.position] if self.position < self.total else None

    def state(self, now: float) -> str:
        """'labeling', 'break' (pending; see ``break_remaining_s``) or 'done'."""
        if self.position >= self.total:
            return "done"
        if self.break_until is not None:
            return "break"
        return "labeling"

    def break_remaining_s(self, now: float) -> float:
        return 0.0 if self.break_until is None else max(0.0, self.break_until - now)

    def progress(self) -> float:
        return self.position / self.total if self.total else 1.0

    def can_undo(self) -> bool:
        return self.config.undo_depth > 0 and self.position > self.undo_floor

    # ---------------------------------------------------------------- actions
    def show(self, now: float) -> QueueEntry | None:
        """The current image is on screen from ``now`` (kept if already shown)."""
        if self.state(now) != "labeling":
            return None
        if self.shown_at is None:
            self.shown_at = now
        return self.current()

    def answer(self, answer: str, now: float, *, response_ms: int | None = None,
               region_xy: tuple[float, float] | None = None, answered_at: datetime | None = None) -> Answer:
        """Answer the current image. ``response_ms`` from the browser wins over ``now - shown_at``."""
        if answer not in ANSWERS:
            raise LabelingError(f"answer must be one of {ANSWERS}, not {answer!r}")
        state = self.state(now)
        if state == "done":
            raise LabelingError("every image of this set is answered")
        if state == "break":
            raise LabelingError(f"a break is on ({self.break_remaining_s(now):.0f} s left); resume after it")
        if region_xy is not None:
            x, y = float(region_xy[0]), float(region_xy[1])
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise LabelingError("a decisive-region click is given in image fractions (0..1)")
            region_xy = (x, y)
        if response_ms is None:
            if self.shown_at is None:
                raise LabelingError("the image was never shown; call show() first")
            response_ms = round((now - self.shown_at) * 1000)
        response_ms = max(0, int(response_ms))
        entry = self.queue[self.position]
        record = Answer(
            label_id=str(uuid.uuid4()), position=entry.position, image=entry.image, answer=answer,
            response_ms=response_ms, slow=response_ms > self.config.slow_threshold_s * 1000,
            is_gold=entry.is_gold, region_xy=region_xy,
            answered_at=answered_at or datetime.now(timezone.utc).replace(tzinfo=None),
        )
        self.answers.append(record)
        self.shown_at = None
        finished_group = self.subgroup_of(entry.position)
        if (self.position < self.total and self.position % self.config.subgroup_size == 0
                and finished_group not in self.breaks_served and self.config.break_s > 0):
            self.break_until = now + self.config.break_s
        return record

    def undo(self, now: float) -> Answer:
        """Take back the last answer (also during a break: the break ends and comes again when
        that subgroup is completed anew, unless it was already served)."""
        if not self.can_undo():
            raise LabelingError("nothing to undo" if self.position == 0 else
                                f"earlier answers cannot be undone here (the last {self.config.undo_depth} of this "
                                "sitting can); ask the researcher to remove a wrong answer")
        self.undo_floor = max(self.undo_floor, self.position - self.config.undo_depth)
        record = self.answers.pop()
        self.break_until = None
        self.shown_at = None
        return record

    def retract(self, answer: Answer) -> None:
        """Forget the last answer because it could not be stored (not an undo: no audit row exists)."""
        if not self.answers or self.answers[-1].label_id != answer.label_id:
            raise LabelingError("only the last answer can be retracted")
        self.answers.pop()
        self.break_until = None
        self.shown_at = None

    def resume(self, now: float) -> None:
        """End the break once its time is over."""
        if self.break_until is None:
            return
        left = self.break_remaining_s(now)
        if left > 0:
            raise LabelingError(f"the break is not over yet: {left:.0f} s left")
        self.breaks_served.add(self.subgroup_of(self.position - 1))
        self.break_until = None
        self.shown_at = None

    def restore(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Continue from stored answers (``Store.list_image_labels`` rows of this labeler and image
        set, undone ones excluded, oldest first): they must match the queue's first images.
        Restored answers cannot be undone; breaks of completed subgroups count as served."""
        if self.answers:
            raise LabelingError("restore() only on a fresh session")
        for i, row in enumerate(rows):
            if i >= self.total or row["image_sha256"] != self.queue[i].image.sha256:
                raise LabelingError(
                    f"the stored answers of this labeler do not follow this image set's order (at answer {i + 1}); "
                    "the set or the labeling settings changed: use a new image set name or labeler")
            rxy = row.get("region_xy")
            self.answers.append(Answer(
                label_id=str(row["label_id"]), position=i, image=self.queue[i].image, answer=str(row["answer"]),
                response_ms=int(row["response_ms"]), slow=bool(row["slow"]), is_gold=bool(row["is_gold"]),
                region_xy=tuple(rxy) if rxy else None, answered_at=row["answered_at"]))
        self.undo_floor = self.position
        self.breaks_served = set(range(self.subgroup_of(self.position)))
        return self.position


# -------------------------------------------------------------------- persistence
def persist_answer(store: LabelStore, session: LabelingSession, answer: Answer) -> str:
    """Write one answer (idempotent on its UUID)."""
    return store.add_image_label(
        labeler_id=session.labeler_id, image_path=answer.image.path, image_sha256=answer.image.sha256,
        answer=answer.answer, response_ms=answer.response_ms, region_xy=answer.region_xy, is_gold=answer.is_gold,
        slow=answer.slow, label_id=answer.label_id, image_set=session.image_set, answered_at=answer.answered_at,
    )


def persist_undo(store: LabelStore, answer: Answer) -> None:
    store.undo_image_label(answer.label_id)


def rows_for_set(rows: Iterable[Mapping[str, Any]], image_set: str) -> list[Mapping[str, Any]]:
    return [r for r in rows if r.get("image_set") == image_set and r.get("undone_at") is None]
