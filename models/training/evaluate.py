"""Per-video predictions and the paper's metrics (+ per-class P/R/F1, macro-F1, confusion matrix)."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from core.labels import CLASS_NAMES
from models.training.data import FeatureSet
from models.training.loader import eval_batches
from models.reaction.plm_ipe import ReactionModel


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = len(CLASS_NAMES)) -> dict[str, Any]:
    """accuracy, precision/recall/f1 per class (0 where undefined), macro_f1, confusion[true][pred], and
    ``degenerate``: the class name when every prediction (of two or more) is that one class, else None."""
    y_true, y_pred = np.asarray(y_true, int), np.asarray(y_pred, int)
    conf = np.zeros((n_classes, n_classes), int)
    np.add.at(conf, (y_true, y_pred), 1)
    tp = np.diag(conf).astype(float)
    pred_n, true_n = conf.sum(0).astype(float), conf.sum(1).astype(float)
    precision = np.divide(tp, pred_n, out=np.zeros(n_classes), where=pred_n > 0)
    recall = np.divide(tp, true_n, out=np.zeros(n_classes), where=true_n > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(n_classes), where=denom > 0)
    return {
        "accuracy": float(tp.sum() / max(1, conf.sum())),
        "precision": precision.round(6).tolist(), "recall": recall.round(6).tolist(), "f1": f1.round(6).tolist(),
        "macro_f1": float(f1.mean()), "confusion": conf.tolist(), "n": int(conf.sum()),
        "degenerate": degenerate_class(conf),
    }


def degenerate_class(confusion: Any) -> str | None:
    """The class a head predicted for every video when it predicted only one (over >= 2 videos), else None.

    Such a head has learnt nothing about the videos, whatever its accuracy (which is then that
    class's share of the set)."""
    predicted = np.asarray(confusion).sum(0)
    used = np.flatnonzero(predicted)
    return CLASS_NAMES[int(used[0])] if len(used) == 1 and predicted.sum() >= 2 else None


def degenerate_warning(head: str, metrics: dict[str, Any]) -> str | None:
    """A one-line warning for a head that predicts one class for every video, else None."""
    only = degenerate_class(metrics["confusion"])
    if only is None:
        return None
    return (f"WARNING: the {head} head predicts {only!r} for all {metrics['n']} videos (degenerate: it has learnt "
            f"nothing about the videos; its accuracy {metrics['accuracy']:.3f} is that class's share)")


def predict_set(model: ReactionModel, fs: FeatureSet, *, batch_size: int = 32, device: str | torch.device = "cpu",
                autocast: Any = None, channels_last: bool = False) -> dict[str, np.ndarray]:
    """Per-video probabilities for each head of ``model`` over ``fs`` (all clips averaged)."""
    import contextlib

    autocast = autocast or contextlib.nullcontext
    was_training = model.training
    model.eval()
    out: dict[str, list[np.ndarray]] = {}
    try:
        for _, batch in eval_batches(fs, batch_size, need_clips=model.pbe is not None, need_flow=model.lbe is not None,
                                     device=device, clip_norm=model.config.clip_norm, channels_last=channels_last):
            with autocast():
                probs = model.video_probs(batch)
            for head in model.heads:
                out.setdefault(head, []).append(probs[head].float().cpu().numpy())
    finally:
        model.train(was_training)
    return {head: np.concatenate(parts) for head, parts in out.items()}


def evaluate_model(model: ReactionModel, fs: FeatureSet, **kw: Any) -> dict[str, dict[str, Any]]:
    """{head: metrics} for every head the variant reports."""
    probs = predict_set(model, fs, **kw)
    return {head: classification_metrics(fs.labels, p.argmax(1)) for head, p in probs.items()}
