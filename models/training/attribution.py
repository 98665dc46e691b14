"""Which facial regions and moments drove the landmark model (LBE): integrated gradients.

Method (``docs/attribution.md``): Captum's ``IntegratedGradients`` on the LBE's logit of a target
class (the predicted one unless chosen), over the raw 72-d descriptor sequence ``flow`` (T, 72),
with the frame mask and the sequence length held fixed.

- Baseline ``"mean"`` (default): every frame set to the training set's mean frame (the LBE's
  ``input_mean``), the jitter-level flow of a mostly still face plus the average expression.
  ``"still"``: no motion, every magnitude 0 with the orientations at their training mean (a
  direction without motion is undefined). ``"zero"``: all 72 channels 0, what the extractor
  writes for a flow-less frame. ``mean`` found the known answer most reliably on the SYNTHETIC
  checks (``bench/bench_attribution.py``); ``still`` and ``zero`` start far outside the data.
- ``steps`` points on the straight path from the baseline to the input (Gauss-Legendre rule);
  ``delta`` is the completeness error, sum of attributions - (F(input) - F(baseline)).
- Aggregation: ``|attribution|`` of a region's orientation channel ``k`` and magnitude channel
  ``36 + k`` are added, per step; summed over the steps they give the 36 region totals,
  summed over the regions and binned by the step's time (the later frame of the pair; the
  frame timestamps, else ``(i + 1) / fps``) the per-second totals. Each is normalised to shares
  (sums to 1). Padding and frames without a face get exactly 0 (the LBE zeroes them).

It lives in ``models/training`` (not ``models/reaction``, which holds only the networks): it
works over :class:`FeatureSet` batches and feeds the reports and the demo's predictor.
"""
from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from core.labels import CLASS_NAMES
from core.reaction.face_regions import GROUPS, N_REGIONS
from models.reaction.lbe import LandmarkLSTM
from models.training.data import FeatureSet
from models.training.loader import eval_batches

BASELINES = ("mean", "still", "zero")
TARGETS = ("predicted", "label", *CLASS_NAMES)


@dataclass(frozen=True)
class AttributionConfig:
    baseline: str = "mean"  # "mean": the training set's mean frame; "still": no motion; "zero": all channels 0
    steps: int = 32  # points on the path from the baseline to the input
    target: str = "predicted"  # class explained: "predicted", "label" (the true class) or a class name
    internal_batch_size: int = 256  # path points per forward pass (bounds memory, not the result)

    def __post_init__(self) -> None:
        if self.baseline not in BASELINES:
            raise ValueError(f"attribution baseline must be one of {', '.join(BASELINES)}, not {self.baseline!r}")
        if self.target not in TARGETS:
            raise ValueError(f"attribution target must be one of {', '.join(TARGETS)}, not {self.target!r}")
        if self.steps < 2:
            raise ValueError(f"attribution steps must be at least 2, not {self.steps}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LBEAttribution:
    """Integrated gradients of one video's LBE decision."""

    attributions: np.ndarray  # (T, 72) signed, per step and channel (orientations then magnitudes)
    valid: np.ndarray  # (T,) bool: steps with a face
    step_times_s: np.ndarray  # (T,) time of each step (its later frame), seconds from the start
    target: int
    probs: np.ndarray  # (3,) the LBE's softmax on the input
    delta: float  # completeness error of the integral approximation, in logits

    @property
    def step_region(self) -> np.ndarray:
        """(T, 36) |attribution| per step and region (orientation + magnitude channel)."""
        a = np.abs(self.attributions)
        return a[:, :N_REGIONS] + a[:, N_REGIONS:]

    @property
    def region_totals(self) -> np.ndarray:
        return self.step_region.sum(0)

    @property
    def region_shares(self) -> np.ndarray:
        """(36,) share of the total |attribution| per region (0 everywhere if there is none)."""
        return to_shares(self.region_totals)

    @property
    def group_shares(self) -> dict[str, float]:
        return group_shares(self.region_shares)

    def seconds(self) -> tuple[np.ndarray, np.ndarray]:
        """``(starts, shares)``: each whole second from 0 and its share of the total |attribution|."""
        starts, totals = per_second(self.step_region.sum(1), self.step_times_s)
        return starts, to_shares(totals)

    def seconds_by_group(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``(starts, {group: (S,) shares})``: per second and face-region group, shares of the whole."""
        step = self.step_region
        total = step.sum()
        out = {}
        starts = np.zeros(0)
        for name, regions in GROUPS.items():
            starts, totals = per_second(step[:, list(regions)].sum(1), self.step_times_s)
            out[name] = totals / total if total > 0 else totals * 0.0
        return starts, out

    def peak_step(self) -> int:
        """The step with the most |attribution| (the decisive moment)."""
        return int(self.step_region.sum(1).argmax())

    def top_regions(self, k: int = 5) -> list[tuple[int, float]]:
        """``[(region 0..35, share)]``, largest first."""
        shares = self.region_shares
        order = np.argsort(-shares, kind="stable")[:k]
        return [(int(r), float(shares[r])) for r in order]


def to_shares(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, np.float64)
    total = values.sum()
    return values / total if total > 0 else np.zeros_like(values)


def group_shares(region_shares: np.ndarray) -> dict[str, float]:
    """The 36 region shares summed over the face-region groups of ``core.reaction.face_regions``."""
    return {name: float(np.asarray(region_shares)[list(regions)].sum()) for name, regions in GROUPS.items()}


def per_second(step_values: np.ndarray, step_times_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum ``step_values`` into whole seconds: ``(starts 0, 1, ..., totals)``."""
    step_values, step_times_s = np.asarray(step_values, np.float64), np.asarray(step_times_s, np.float64)
    if len(step_values) == 0:
        return np.zeros(0), np.zeros(0)
    bins = np.floor(np.maximum(step_times_s, 0.0)).astype(np.int64)
    totals = np.bincount(bins, weights=step_values, minlength=int(bins.max()) + 1)
    return np.arange(len(totals), dtype=np.float64), totals


def step_times(steps: int, timestamps_s: np.ndarray | None = None, fps: float = 30.0) -> np.ndarray:
    """Time of each descriptor step: its later frame's timestamp, else ``(i + 1) / fps``."""
    if timestamps_s is not None and len(timestamps_s) >= steps + 1:
        return np.asarray(timestamps_s, np.float64)[1: steps + 1]
    return (np.arange(steps, dtype=np.float64) + 1) / (fps if fps and fps > 0 else 30.0)


def _baseline(lbe: LandmarkLSTM, flow: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "zero":
        return torch.zeros_like(flow)
    if kind == "still":
        base = torch.zeros_like(flow)
        base[..., :N_REGIONS] = lbe.input_mean[:N_REGIONS].to(flow) if hasattr(lbe, "input_mean") else 0.5
        return base
    if not hasattr(lbe, "input_mean"):
        raise ValueError("the 'mean' attribution baseline needs an LBE trained with input_norm (runs saved before it "
                         "have none): use --ig-baseline still")
    return lbe.input_mean.to(flow).expand_as(flow).clone()


def _no_cudnn(flow: torch.Tensor) -> contextlib.AbstractContextManager:
    # cuDNN's LSTM backward runs only in training mode; attributions want the eval-mode model
    return torch.backends.cudnn.flags(enabled=False) if flow.is_cuda else contextlib.nullcontext()


def integrated_gradients(lbe: LandmarkLSTM, flow: torch.Tensor, valid: torch.Tensor, lengths: torch.Tensor,
                         targets: torch.Tensor | None = None, config: AttributionConfig = AttributionConfig()
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """IG of a batch: ``(attributions (B, T, 72), deltas (B,), targets (B,), probs (B, 3))``.

    ``targets`` None: each video's predicted class. The model is put in eval mode and restored.
    """
    from captum.attr import IntegratedGradients

    was_training = lbe.training
    lbe.eval()
    try:
        with torch.no_grad():
            logits = lbe(flow, valid, lengths).float()
        if targets is None:
            targets = logits.argmax(-1)
        targets = torch.as_tensor(targets, dtype=torch.int64, device=flow.device)
        with _no_cudnn(flow):
            attr, delta = IntegratedGradients(lbe).attribute(
                flow.float(), baselines=_baseline(lbe, flow.float(), config.baseline), target=targets,
                additional_forward_args=(valid, lengths), n_steps=config.steps, method="gausslegendre",
                internal_batch_size=max(config.internal_batch_size, len(flow)), return_convergence_delta=True,
            )
    finally:
        lbe.train(was_training)
    return (attr.detach().cpu().numpy().astype(np.float32), delta.detach().cpu().numpy().astype(np.float64),
            targets.cpu().numpy(), logits.softmax(-1).cpu().numpy())


def resolve_target(target: str | int | None) -> int | None:
    """A class index, or None for "the predicted class"; a class name or index is checked."""
    if target is None or target == "predicted":
        return None
    if isinstance(target, (int, np.integer)):
        if not 0 <= int(target) < len(CLASS_NAMES):
            raise ValueError(f"target class must be 0..{len(CLASS_NAMES) - 1}, not {target}")
        return int(target)
    if target in CLASS_NAMES:
        return CLASS_NAMES.index(target)
    raise ValueError(f"unknown target {target!r}; choose predicted or one of {', '.join(CLASS_NAMES)}")


def attribute_sequence(lbe: LandmarkLSTM, flow: np.ndarray, valid: np.ndarray, *,
                       timestamps_s: np.ndarray | None = None, fps: float = 30.0, target: str | int | None = None,
                       config: AttributionConfig = AttributionConfig()) -> LBEAttribution:
    """IG of one video's descriptor sequence ``flow`` (T, 72) with its face mask ``valid`` (T,)."""
    flow = np.asarray(flow, np.float32)
    valid = np.asarray(valid, bool)
    if flow.ndim != 2 or flow.shape[1] != 2 * N_REGIONS or len(valid) != len(flow):
        raise ValueError(f"flow must be (T, {2 * N_REGIONS}) with a (T,) mask, got {flow.shape} and {valid.shape}")
    if len(flow) == 0:
        raise ValueError("the video has no descriptor steps (fewer than two frames): nothing to attribute")
    device = next(lbe.parameters()).device
    cls = resolve_target(target)
    attr, delta, targets, probs = integrated_gradients(
        lbe, torch.from_numpy(flow)[None].to(device), torch.from_numpy(valid)[None].to(device),
        torch.tensor([len(flow)]), None if cls is None else torch.tensor([cls]), config,
    )
    return LBEAttribution(attr[0], valid, step_times(len(flow), timestamps_s, fps), int(targets[0]), probs[0],
                          float(delta[0]))


def attribute_set(lbe: LandmarkLSTM, fs: FeatureSet, config: AttributionConfig = AttributionConfig(), *,
                  batch_size: int = 16, device: str | torch.device = "cpu") -> dict[str, np.ndarray]:
    """Region totals of every video of ``fs``, explaining ``config.target``.

    Returns ``region_totals`` (V, 36) |attribution|, ``targets`` (V,) the class explained,
    ``predicted`` (V,), ``labels`` (V,) and ``deltas`` (V,), in the set's order.
    """
    n = len(fs)
    totals = np.zeros((n, N_REGIONS))
    targets, predicted, deltas = np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n)
    fixed = None if config.target in ("predicted", "label") else CLASS_NAMES.index(config.target)
    for index, batch in eval_batches(fs, batch_size, need_clips=False, need_flow=True, device=device, num_workers=0):
        chosen = None
        if config.target == "label":
            chosen = batch.labels
        elif fixed is not None:
            chosen = torch.full_like(batch.labels, fixed)
        attr, delta, target, probs = integrated_gradients(lbe, batch.flow, batch.valid, batch.lengths, chosen, config)
        a = np.abs(attr)
        totals[index] = (a[..., :N_REGIONS] + a[..., N_REGIONS:]).sum(1)
        targets[index], predicted[index], deltas[index] = target, probs.argmax(-1), delta
    return {"region_totals": totals, "targets": targets, "predicted": predicted, "labels": fs.labels.copy(),
            "deltas": deltas}


def class_region_shares(result: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(shares (3, 36), counts (3,))``: the mean over videos of each video's region shares, per class explained.

    Each video counts once whatever its length (its shares sum to 1); a class with no video
    gets a row of zeros and count 0.
    """
    shares = np.stack([to_shares(t) for t in result["region_totals"]]) if len(result["region_totals"]) else np.zeros((0, N_REGIONS))
    out = np.zeros((len(CLASS_NAMES), N_REGIONS))
    counts = np.zeros(len(CLASS_NAMES), np.int64)
    for c in range(len(CLASS_NAMES)):
        rows = shares[result["targets"] == c]
        counts[c] = len(rows)
        if len(rows):
            out[c] = rows.mean(0)
    return out, counts
