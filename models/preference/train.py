"""Train per-labeler preference models: the paper's protocols, tables and transfer learning.

* **Model 1**: train / test. **Model 2**: train / validation / test, the epoch with the best
  validation accuracy is kept (model selection on validation). Splits are stratified by label.
* Tables as the paper's Tables 2-4: TP / FP / FN / TN counts (positive = preferred) and accuracy
  for every split.
* **Transfer learning** (the paper's Fig. 2): pretrain the VGG-style CNN on the labeler's
  Fashion-MNIST labels (source), keep ``features``, put a new head on, fine-tune all layers on the
  target split; compared with the same network trained from scratch on the *same* target split,
  and with ImageNet-pretrained EfficientNet-Lite0 fine-tuned the same way (beyond the paper).

Data are uint8 NHWC arrays; batches are converted to float NCHW in [0, 1] on the fly (a 1-channel
source feeds a 3-channel model by repetition), so the 70,000-image source fits in ~55 MB.
"""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from models.preference.cnn import PreferenceCNN, PreferenceCNNConfig, reset_head

PROTOCOLS = ("model1", "model2")


@dataclass(frozen=True)
class PreferenceTrainConfig:
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    hflip: bool = True       # random horizontal flips (garments are left-right symmetric enough)
    progress: bool = False   # tqdm bar over epochs


@dataclass(frozen=True)
class SplitConfig:
    protocol: str = "model2"
    test_fraction: float = 0.2
    val_fraction: float = 0.2   # of the whole set, Model 2 only
    seed: int = 0


@dataclass
class FitResult:
    model: nn.Module
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)
    seconds_per_epoch: float = 0.0


def make_split(labels: np.ndarray, config: SplitConfig) -> dict[str, np.ndarray]:
    """Stratified index split: {"train", "test"} (model1) or {"train", "val", "test"} (model2)."""
    if config.protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, not {config.protocol!r}")
    rng = np.random.default_rng(config.seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        n_test = int(round(len(idx) * config.test_fraction))
        n_val = int(round(len(idx) * config.val_fraction)) if config.protocol == "model2" else 0
        parts["test"].append(idx[:n_test])
        parts["val"].append(idx[n_test:n_test + n_val])
        parts["train"].append(idx[n_test + n_val:])
    split = {k: np.sort(np.concatenate(v)) if v else np.zeros(0, dtype=np.int64) for k, v in parts.items()}
    if config.protocol == "model1":
        split.pop("val")
    return split


def to_tensor(images: np.ndarray, channels: int) -> torch.Tensor:
    """uint8 or float NHWC -> float NCHW in [0, 1] with ``channels`` channels."""
    x = torch.from_numpy(np.ascontiguousarray(images))
    x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
    if x.ndim == 3:
        x = x.unsqueeze(-1)
    x = x.permute(0, 3, 1, 2)
    if x.shape[1] == 1 and channels == 3:
        x = x.expand(-1, 3, -1, -1)
    elif x.shape[1] == 3 and channels == 1:
        x = x.mean(1, keepdim=True)
    return x.contiguous()


def _input_channels(model: nn.Module) -> int:
    return int(model.config.in_channels)


@torch.no_grad()
def predict_proba(model: nn.Module, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """P(preferred) for each image."""
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        logits = model(to_tensor(images[start:start + batch_size], _input_channels(model)))
        out.append(torch.softmax(logits, 1)[:, 1].numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def confusion(y_true: np.ndarray, p_preferred: np.ndarray, threshold: float = 0.5) -> dict[str, Any]:
    """TP/FP/FN/TN (positive = preferred), n and accuracy, as in the paper's tables."""
    y_true = np.asarray(y_true).astype(int)
    y_pred = (np.asarray(p_preferred) >= threshold).astype(int)
    tp = int(((y_pred == 1) & (y_true == 1)).sum())
    fp = int(((y_pred == 1) & (y_true == 0)).sum())
    fn = int(((y_pred == 0) & (y_true == 1)).sum())
    tn = int(((y_pred == 0) & (y_true == 0)).sum())
    n = tp + fp + fn + tn
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "n": n, "accuracy": (tp + tn) / n if n else float("nan")}


def fit(model: nn.Module, x_train: np.ndarray, y_train: np.ndarray, config: PreferenceTrainConfig,
        x_val: np.ndarray | None = None, y_val: np.ndarray | None = None) -> FitResult:
    """Adam + cross-entropy (softmax over the two classes); with a validation set, keep the best epoch."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    # balanced class weights: preference sets are often lopsided (Table 1 of the paper)
    counts = np.bincount(np.asarray(y_train, dtype=np.int64), minlength=2).astype(np.float32)
    weight = torch.tensor(counts.sum() / (2 * np.maximum(counts, 1)), dtype=torch.float32)
    loss_fn = nn.CrossEntropyLoss(weight=weight)
    channels = _input_channels(model)
    y_all = torch.as_tensor(np.asarray(y_train, dtype=np.int64))
    best_acc, best_epoch, best_state = -1.0, config.epochs, None
    history: list[dict[str, float]] = []
    epochs = range(1, config.epochs + 1)
    if config.progress:
        from tqdm import tqdm
        epochs = tqdm(epochs, desc="epochs", unit="epoch")
    started = time.perf_counter()
    for epoch in epochs:
        model.train()
        order = rng.permutation(len(x_train))
        total, seen = 0.0, 0
        for start in range(0, len(order), config.batch_size):
            idx = order[start:start + config.batch_size]
            if len(idx) < 2:  # batch norm needs two samples
                continue
            x = to_tensor(x_train[idx], channels)
            if config.hflip:
                flip = torch.from_numpy(rng.random(len(idx)) < 0.5)
                x = torch.where(flip[:, None, None, None], x.flip(3), x)
            loss = loss_fn(model(x), y_all[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
            seen += len(idx)
        record = {"epoch": epoch, "train_loss": total / max(seen, 1)}
        if x_val is not None and len(x_val):
            record["val_accuracy"] = confusion(y_val, predict_proba(model, x_val))["accuracy"]
            if record["val_accuracy"] >= best_acc:  # ties: the later, longer-trained epoch
                best_acc, best_epoch = record["val_accuracy"], epoch
                best_state = copy.deepcopy(model.state_dict())
        history.append(record)
    seconds = (time.perf_counter() - started) / max(config.epochs, 1)
    if best_state is not None:
        model.load_state_dict(best_state)
    return FitResult(model, best_epoch, history, seconds)


@dataclass
class ProtocolResult:
    protocol: str
    model: nn.Module
    tables: dict[str, dict[str, Any]]   # split name -> confusion()
    best_epoch: int
    seconds_per_epoch: float
    history: list[dict[str, float]]


def run_protocol(images: np.ndarray, labels: np.ndarray, split: dict[str, np.ndarray],
                 model: nn.Module, config: PreferenceTrainConfig) -> ProtocolResult:
    """Train on split["train"] (selecting on split["val"] if present) and tabulate every split."""
    val = split.get("val")
    result = fit(model, images[split["train"]], labels[split["train"]], config,
                 images[val] if val is not None else None, labels[val] if val is not None else None)
    tables = {name: confusion(labels[idx], predict_proba(model, images[idx])) for name, idx in split.items()}
    return ProtocolResult("model2" if val is not None else "model1", model, tables, result.best_epoch,
                          result.seconds_per_epoch, result.history)


@dataclass(frozen=True)
class TransferConfig:
    cnn: PreferenceCNNConfig = PreferenceCNNConfig()
    target_train: PreferenceTrainConfig = PreferenceTrainConfig(epochs=10, batch_size=32)
    efficientnet: bool = True
    efficientnet_train: PreferenceTrainConfig = PreferenceTrainConfig(epochs=5, batch_size=16, lr=3e-4)


def build_cnn(config: PreferenceCNNConfig, size: int, channels: int, seed: int = 0) -> PreferenceCNN:
    """A fresh network with seeded initial weights (runs are reproducible end to end)."""
    torch.manual_seed(seed)
    return PreferenceCNN(PreferenceCNNConfig(**{**asdict(config), "image_size": size, "in_channels": channels}))


def transfer_experiment(source_model: PreferenceCNN, target_images: np.ndarray, target_labels: np.ndarray,
                        split: dict[str, np.ndarray], config: TransferConfig, *,
                        efficientnet_images: np.ndarray | None = None,
                        log: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Scratch vs. transfer (vs. EfficientNet-Lite0) on the same target split.

    ``source_model`` was trained on the labeler's source labels (any input size: the adaptive
    pooling keeps the head shape, so its feature layers move to the target size unchanged).
    Returns ``{"rows": [...], "runs": {method: ProtocolResult}}``; every row carries the test
    table and ``gain_over_scratch`` (test accuracy minus the from-scratch test accuracy).
    """
    size, channels = int(target_images.shape[1]), int(source_model.config.in_channels)
    log("training from scratch on the target split")
    scratch_model = build_cnn(config.cnn, size, channels, config.target_train.seed)
    scratch = run_protocol(target_images, target_labels, split, scratch_model, config.target_train)
    log("fine-tuning the source feature layers with a new head on the target split")
    transferred = build_cnn(source_model.config, size, channels, config.target_train.seed)
    transferred.features.load_state_dict(source_model.features.state_dict())
    reset_head(transferred)
    transfer = run_protocol(target_images, target_labels, split, transferred, config.target_train)
    runs: dict[str, ProtocolResult] = {"vgg-scratch": scratch, "vgg-transfer-fmnist": transfer}
    if config.efficientnet:
        from models.preference.efficientnet import EfficientNetConfig, EfficientNetPreference

        log("fine-tuning ImageNet EfficientNet-Lite0 with a new head on the target split")
        eff_x = efficientnet_images if efficientnet_images is not None else target_images
        torch.manual_seed(config.efficientnet_train.seed)
        eff = EfficientNetPreference(EfficientNetConfig(image_size=int(eff_x.shape[1])))
        runs["efficientnet-lite0-imagenet"] = run_protocol(eff_x, target_labels, split, eff, config.efficientnet_train)
    scratch_acc = scratch.tables["test"]["accuracy"]
    rows = []
    for name, run in runs.items():
        test = run.tables["test"]
        rows.append({
            "method": name, "protocol": run.protocol, "best_epoch": run.best_epoch,
            "seconds_per_epoch": round(run.seconds_per_epoch, 3),
            **{f"test_{k}": v for k, v in test.items()},
            "gain_over_scratch": test["accuracy"] - scratch_acc,
        })
    return {"rows": rows, "runs": runs}
