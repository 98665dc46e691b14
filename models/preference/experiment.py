"""One preference run for one labeler: source protocol table, transfer table, Grad-CAM, checkpoints.

Reads labels from a simulated labeler (``core/labeling/simulated_labeler.py``) or from the store's
``image_label`` rows, then

1. source (Fashion-MNIST, the paper's Table 2): Model 1 / Model 2 protocol with 1/7 test and (Model 2)
   1/7 validation, i.e. 60,000/10,000 or 50,000/10,000/10,000 on all 70,000 images;
2. target (catalog or imported folder, Tables 3-4): from scratch vs. transfer from the source model
   vs. EfficientNet-Lite0 (ImageNet), all on the same target split;
3. Grad-CAM overlays of test images and, when the labeler clicked decisive regions, the Table 5
   agreement;

and writes ``<out>/<labeler>/{source,vgg-scratch,vgg-transfer-fmnist,efficientnet-lite0-imagenet}/``
checkpoints (kind ``preference-cnn``), ``report.md``, ``report.csv``, ``metrics.json``,
``run_config.json`` and ``overlays/``.
"""
from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from core.errors import IPEError
from core.labeling.image_sets import ImageSet, stack_images
from core.labeling.preference_data import LabeledData
from models.checkpoint import PREFERENCE_KIND
from models.preference.cnn import PreferenceCNNConfig, target_layers
from models.preference.predict import save_preference_model
from models.preference.train import (SplitConfig, PreferenceTrainConfig, TransferConfig, build_cnn, make_split,
                                     run_protocol, to_tensor, transfer_experiment)

MIN_LABELS = 10


class PreferenceDataError(IPEError):
    """Not enough usable labels to train a preference model."""


@dataclass(frozen=True)
class ExperimentConfig:
    protocol: str = "model2"
    target_size: int = 64
    target_channels: int = 3
    efficientnet: bool = True
    efficientnet_size: int = 96
    cnn: PreferenceCNNConfig = PreferenceCNNConfig()
    source_train: PreferenceTrainConfig = PreferenceTrainConfig(epochs=3, batch_size=128)
    target_train: PreferenceTrainConfig = PreferenceTrainConfig(epochs=15, batch_size=32)
    efficientnet_train: PreferenceTrainConfig = PreferenceTrainConfig(epochs=5, batch_size=16, lr=3e-4)
    target_test_fraction: float = 0.2
    target_val_fraction: float = 0.2
    cam_method: str = "gradcam"
    overlays: int = 8
    seed: int = 0


def _as_uint8(images: np.ndarray) -> np.ndarray:
    return np.clip(images * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _check(image_set: ImageSet, what: str, labeler: str) -> None:
    labels = image_set.labels
    if len(labels) < MIN_LABELS or len(np.unique(labels)) < 2:
        raise PreferenceDataError(
            f"{labeler}: {len(labels)} usable {what} labels ({int(labels.sum()) if len(labels) else 0} preferred); "
            f"need at least {MIN_LABELS} with both answers - label more images in the labeling page"
        )


def table_rows(scope: str, method: str, tables: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"scope": scope, "method": method, "split": split, **table} for split, table in tables.items()]


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    head = "| scope | method | split | TP | FP | FN | TN | n | accuracy |\n|---|---|---|---|---|---|---|---|---|\n"
    return head + "".join(
        f"| {r['scope']} | {r['method']} | {r['split']} | {r['tp']} | {r['fp']} | {r['fn']} | {r['tn']} | {r['n']} "
        f"| {r['accuracy']:.2%} ({r['tp'] + r['tn']}/{r['n']}) |\n" for r in rows)


def run_experiment(data: LabeledData, config: ExperimentConfig, out: Path, *,
                   log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the whole protocol for one labeler into ``out``; returns the metrics written to metrics.json."""
    from models.preference.explain import agreement_table, agreement_with_clicks, compute_heatmaps, save_overlays
    from models.preference.train import predict_proba

    _check(data.source, "Fashion-MNIST", data.labeler)
    _check(data.target, "target", data.labeler)
    out.mkdir(parents=True, exist_ok=True)
    channels = config.target_channels
    src_x = _as_uint8(stack_images(data.source, size=28, channels=1))
    src_y = data.source.labels
    src_split = make_split(src_y, SplitConfig(config.protocol, 1 / 7, 1 / 7, config.seed))
    log(f"[{data.labeler}] source: {len(src_y)} Fashion-MNIST images, {src_y.mean():.1%} preferred, "
        f"split {', '.join(f'{k} {len(v)}' for k, v in src_split.items())}")
    source = run_protocol(src_x, src_y, src_split, build_cnn(config.cnn, 28, channels, config.seed), config.source_train)
    save_preference_model(out / "source", source.model,
                          {"labeler": data.labeler, "domain": "fashion-mnist", "protocol": config.protocol,
                           "tables": source.tables, "input_polarity": "photo (dark garment on white)"})
    rows = table_rows("source fashion-mnist", "vgg", source.tables)

    tgt_x = _as_uint8(stack_images(data.target, size=config.target_size, channels=channels))
    tgt_y = data.target.labels
    split = make_split(tgt_y, SplitConfig(config.protocol, config.target_test_fraction,
                                          config.target_val_fraction, config.seed))
    log(f"[{data.labeler}] target {data.target.name}: {len(tgt_y)} images, {tgt_y.mean():.1%} preferred, "
        f"split {', '.join(f'{k} {len(v)}' for k, v in split.items())}")
    eff_x = (_as_uint8(stack_images(data.target, size=config.efficientnet_size, channels=3))
             if config.efficientnet else None)
    transfer = transfer_experiment(
        source.model, tgt_x, tgt_y, split,
        TransferConfig(config.cnn, config.target_train, config.efficientnet, config.efficientnet_train),
        efficientnet_images=eff_x, log=lambda m: log(f"[{data.labeler}] {m}"))
    for method, run in transfer["runs"].items():
        rows += table_rows("target " + data.target.name, method, run.tables)
        save_preference_model(out / method, run.model,
                              {"labeler": data.labeler, "domain": data.target.name, "protocol": config.protocol,
                               "tables": run.tables, "best_epoch": run.best_epoch})

    # Grad-CAM on the correctly classified test images of the transferred VGG (the paper's Figs. 8-9, Table 5)
    model = transfer["runs"]["vgg-transfer-fmnist"].model
    test = split["test"]
    pred = (predict_proba(model, tgt_x[test]) >= 0.5).astype(int)
    correct = test[pred == tgt_y[test]]
    heats = compute_heatmaps(model, target_layers(model), to_tensor(tgt_x[correct], channels),
                             method=config.cam_method, target_class=[int(c) for c in tgt_y[correct]]) \
        if len(correct) else np.zeros((0, config.target_size, config.target_size), np.float32)
    shown = correct[: config.overlays]
    save_overlays([tgt_x[i] if channels == 3 else tgt_x[i][..., 0] for i in shown], heats[: len(shown)],
                  out / "overlays", [f"{'pref' if tgt_y[i] else 'nonpref'}-{data.target.records[i].image_id[:12]}"
                                     for i in shown])
    clicks = [data.target.records[i].region_xy for i in correct]
    agreement = agreement_table(agreement_with_clicks(list(heats), clicks, tgt_y[correct]))

    metrics = {"labeler": data.labeler, "protocol": config.protocol, "source_tables": source.tables,
               "transfer": transfer["rows"], "cam_method": config.cam_method, "agreement": agreement}
    _write_reports(out, data, config, rows, transfer["rows"], agreement, metrics)
    return metrics


def _write_reports(out: Path, data: LabeledData, config: ExperimentConfig, rows: list[dict[str, Any]],
                   transfer_rows: list[dict[str, Any]], agreement: list[dict[str, Any]], metrics: dict) -> None:
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
    (out / "run_config.json").write_text(json.dumps(asdict(config), indent=2, default=str))
    with open(out / "report.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = [f"# Preference model: {data.labeler} ({config.protocol})", "",
             "Positive = preferred. Tables as the paper's Tables 2-4.", "", markdown_table(rows), "",
             "## Transfer learning (same target test split)", "",
             "| method | best epoch | s/epoch | test accuracy | gain over scratch |", "|---|---|---|---|---|"]
    for r in transfer_rows:
        lines.append(f"| {r['method']} | {r['best_epoch']} | {r['seconds_per_epoch']} | {r['test_accuracy']:.2%} "
                     f"| {r['gain_over_scratch']:+.2%} |")
    lines += ["", f"## Grad-CAM ({config.cam_method}) agreement with decisive-region clicks (Table 5)", "",
              "| class | matched | with click | share | no click |", "|---|---|---|---|---|"]
    for r in agreement:
        share = "n/a" if not r["total"] else f"{r['share']:.2%}"
        lines.append(f"| {r['class']} | {r['matched']} | {r['total']} | {share} | {r['no_click']} |")
    (out / "report.md").write_text("\n".join(lines) + "\n")


def write_run_summary(run_folder: Path, labelers: Sequence[str]) -> None:
    """Run-level ``metrics.json``, ``report.md`` and ``report.csv`` over the labelers' subfolders."""
    metrics: dict[str, Any] = {"kind": PREFERENCE_KIND, "labelers": {}}
    reports, rows = [], []
    for name in labelers:
        folder = run_folder / name
        metrics["labelers"][name] = json.loads((folder / "metrics.json").read_text())
        reports.append((folder / "report.md").read_text())
        with open(folder / "report.csv", newline="") as handle:
            rows += [{"labeler": name, **row} for row in csv.DictReader(handle)]
    (run_folder / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
    (run_folder / "report.md").write_text("\n".join(reports))
    with open(run_folder / "report.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
