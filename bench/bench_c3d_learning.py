"""Why the C3D (PBE) does or does not learn at CPU size: one row per option combination.

    python -m bench.bench_c3d_learning memorise [--steps 120] [--combo SPEC ...]
    python -m bench.bench_c3d_learning toy [--epochs 30] [--signal 1.0] [--combo SPEC ...]
    python -m bench.bench_c3d_learning rendered OUT/leave-faces-out [--epochs 30] [--combo SPEC ...]
    python -m bench.bench_c3d_learning signal OUT/leave-faces-out

Tasks:
- ``memorise``: 32 clips (SYNTHETIC toy clips, 112x112) with RANDOM labels, batches of 16 drawn from
  them: can the network fit anything? Prints the mean training loss of the last 10 steps (ln 3 = 1.099
  is chance), the accuracy on the 32 in eval mode after ``--steps`` steps, and the conv channels
  whose ReLU output is 0 for all 32 clips (dead), at initialisation -> after training.
- ``toy``: ``models/training/synthetic.py`` clips at 112 px (a bright bar moving up / down / not at all
  on a disc), split by volunteer; trained with ``models.training.train.train_model``.
- ``rendered``: a rendered SYNTHETIC reaction set, ``OUT/<protocol>`` of ``python -m bench.bench_synthetic_set OUT
  --protocols leave-faces-out --stages render,extract`` (held-out volunteers wear faces no training volunteer wears),
  with the folds of that protocol.
- ``signal``: how big the class signal is in the 112x112 face crops of OUT, in grey levels, and
  a pixel reference (logistic regression on each video's mean last-minus-first frame of its clips).

``SPEC`` is ``name:key=value,key=value`` over the CPU base setting (the README's table: width 1/16,
fc 128, dropout 0.5, He init, no BatchNorm, Adam 1e-3 without warm-up, batch 16, clips in [-1, 1]);
keys: width, fc_dim, dropout, norm (none|batch), init (he|pytorch), lr, warmup (steps), clip_norm
(unit|sports1m|standardise|temporal), batch, size (face crops resized to size x size px before
training, 0: as extracted); a name starting with ``cpu-preset`` starts from
``models.reaction.registry.CPU_PRESET`` instead. Without ``--combo`` the single-factor table of
docs/c3d_learning.md runs. Every row prints training loss, training accuracy, held-out accuracy,
the held-out predictions' class counts and the seconds it took (one process, ``--threads``).
SYNTHETIC DATA: these figures say whether the network can learn, nothing about people.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

BASE: dict[str, Any] = {"width": 1 / 16, "fc_dim": 128, "dropout": 0.5, "norm": "none", "init": "he", "lr": 1e-3,
                        "warmup": 0, "clip_norm": "unit", "batch": 16, "size": 0}
DEFAULT_COMBOS = (
    "base:", "init-pytorch:init=pytorch", "dropout0:dropout=0", "lr1e-4:lr=1e-4", "warmup:warmup=60",
    "standardise:clip_norm=standardise", "batchnorm:norm=batch", "bn+drop0.1:norm=batch,dropout=0.1", "cpu-preset",
)
_CASTS = {"width": float, "fc_dim": int, "dropout": float, "norm": str, "init": str, "lr": float, "warmup": int,
          "clip_norm": str, "batch": int, "size": int}


@dataclass
class Combo:
    name: str
    settings: dict[str, Any] = field(default_factory=lambda: dict(BASE))


def preset_settings() -> dict[str, Any]:
    """models.reaction.registry.CPU_PRESET in this bench's keys."""
    from models.reaction.registry import CPU_PRESET

    model, train = CPU_PRESET["model"], CPU_PRESET["train"]
    return {**BASE, **{k: model[k] for k in ("width", "fc_dim", "dropout", "norm", "clip_norm")},
            "lr": train["lr_pbe"], "warmup": train["warmup_steps_pbe"], "batch": train["batch_size"]}


def parse_combo(spec: str) -> Combo:
    """``name:key=value,...`` -> a Combo over BASE, or over the CPU preset when the name starts
    with ``cpu-preset`` (unknown keys: ValueError naming the known ones)."""
    name, _, rest = spec.partition(":")
    settings = preset_settings() if name.startswith("cpu-preset") else dict(BASE)
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, _, value = part.partition("=")
        if key not in _CASTS:
            raise ValueError(f"unknown key {key!r} in {spec!r}; use {', '.join(_CASTS)}")
        settings[key] = _CASTS[key](value)
    return Combo(name or "unnamed", settings)


def configs(combo: Combo, clip_size: int, epochs: int, seed: int) -> tuple[Any, Any]:
    """(ModelConfig of the PBE, TrainConfig) for a combo."""
    from models.reaction.registry import model_config
    from models.training.train import TrainConfig

    s = combo.settings
    mc = model_config("pbe", width=s["width"], fc_dim=s["fc_dim"], dropout=s["dropout"], norm=s["norm"],
                      init=s["init"], clip_size=clip_size, clip_norm=s["clip_norm"])
    tc = TrainConfig(epochs=epochs, batch_size=s["batch"], lr_pbe=s["lr"], warmup_steps_pbe=s["warmup"], seed=seed,
                     eval_every=0)
    return mc, tc


def dead_channels(c3d: Any, x: Any) -> tuple[int, int]:
    """(conv channels whose ReLU output is 0 for every clip of ``x``, all conv channels), in eval mode."""
    import torch

    from models.reaction.c3d import CONV_NAMES

    dead = total = 0
    was = c3d.training
    c3d.eval()
    with torch.no_grad():
        h = x
        for name in CONV_NAMES:
            h = getattr(c3d, name)(h)
            if name in c3d.norms:
                h = c3d.norms[name](h)
            h = c3d.relu(h)
            dead += int((h.amax(dim=(0, 2, 3, 4)) <= 0).sum())
            total += h.shape[1]
            if name in c3d.pools:
                h = c3d.pools[name](h)
    c3d.train(was)
    return dead, total


def memorise(combo: Combo, steps: int, seed: int) -> dict[str, Any]:
    """Fit 32 clips with random labels: mean loss of the last 10 steps, eval-mode accuracy on the 32."""
    import torch

    from models.reaction.baselines import independent_step
    from models.reaction.registry import build_from_config
    from models.training.data import clips_to_input, Batch
    from models.training.synthetic import make_synthetic_set
    from models.training.train import make_optimizers, make_warmups

    fs = make_synthetic_set(n_volunteers=4, videos_per_volunteer=8, clip_size=112, clips_per_video=1, seed=seed)
    clips = torch.from_numpy(np.concatenate([c for c in fs.clips]))
    labels = torch.from_numpy(np.random.default_rng(seed).integers(0, 3, len(clips)))
    mc, tc = configs(combo, 112, 1, seed)
    torch.manual_seed(seed)
    model = build_from_config(mc)
    optimizers = make_optimizers(model, tc)
    warmups = make_warmups(optimizers, tc)
    x = clips_to_input(clips, mc.clip_norm)
    rng = np.random.default_rng(seed + 1)
    losses = []
    dead_at_init = dead_channels(model.pbe, x)[0]
    model.train()
    for _ in range(steps):
        idx = torch.from_numpy(rng.choice(len(x), tc.batch_size, replace=False))
        stats = independent_step(model, Batch(labels=labels[idx], clips=x[idx]), optimizers)
        for w in warmups:
            w.step()
        losses.append(stats["loss_pbe"])
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model.pbe(chunk) for chunk in x.split(16)]).argmax(1)
    dead, total = dead_channels(model.pbe, x)
    return {"train_loss": float(np.mean(losses[-10:])), "train_acc": float((pred == labels).float().mean()),
            "dead": f"{dead_at_init}->{dead}/{total}"}


def resized(fs: Any, size: int) -> Any:
    """``fs`` with every clip's frames resized to ``size`` x ``size`` (area interpolation), in memory."""
    import cv2
    from dataclasses import replace

    from models.training.npz_arrays import read_item

    def one(clips: np.ndarray) -> np.ndarray:
        n, t = clips.shape[:2]
        frames = [cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in clips.reshape(-1, *clips.shape[2:])]
        return np.stack(frames).reshape(n, t, size, size, 3)

    return replace(fs, clips=[one(read_item(fs.clips, i)) for i in range(len(fs))])


def learn(combo: Combo, train_set: Any, test_set: Any, epochs: int, seed: int) -> dict[str, Any]:
    """Train the PBE on the real training path; last epoch's loss / accuracy, held-out metrics."""
    from models.training.train import train_model

    size = combo.settings["size"]
    if size and size != int(train_set.clip_shape[1]):
        train_set, test_set = resized(train_set, size), resized(test_set, size)
    mc, tc = configs(combo, int(train_set.clip_shape[1]), epochs, seed)
    result = train_model(mc, train_set, test_set, tc)
    last = result.history[-1]
    m = result.metrics["pbe"]
    return {"train_loss": last["loss_pbe"], "train_acc": last["train_acc_pbe"], "test_acc": m["accuracy"],
            "macro_f1": m["macro_f1"], "predicted": np.asarray(m["confusion"]).sum(0).tolist()}


def rendered_split(out: Path) -> tuple[Any, Any]:
    """(train, test) of a rendered protocol folder, with the folds its plan gave the volunteers."""
    from bench.bench_synthetic_set import write_split_manifest
    from models.training.data import load_manifest

    folds = load_manifest(write_split_manifest(out))
    return folds["train"], folds["test"]


def signal_report(train_set: Any, test_set: Any) -> None:
    """Grey-level sizes in the face crops, and a linear pixel reference on held-out volunteers."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from models.training.npz_arrays import read_item

    def per_video(fs: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        diffs, means, change = [], [], []
        for i in range(len(fs)):
            grey = read_item(fs.clips, i).astype(np.float32).mean(-1)  # (N, 16, H, W)
            d = (grey[:, -1] - grey[:, 0]).mean(0)  # the clip's change over its 16 frames
            diffs.append(d[::4, ::4].ravel())  # 28x28
            means.append(grey.mean((0, 1))[::4, ::4].ravel())
            change.append(float(np.abs(grey - grey[:, :1]).mean()))
        return np.array(diffs), np.array(means), np.array(change)

    d_tr, m_tr, c_tr = per_video(train_set)
    d_te, m_te, _ = per_video(test_set)
    y_tr = train_set.labels
    appearance = float(np.sqrt(((m_tr - m_tr.mean(0)) ** 2).mean()))
    brightness = float(m_tr.mean(1).std())
    print(f"face crops 112x112, grey levels 0-255, {len(train_set)} training videos:")
    print(f"  appearance between videos (RMS of the mean frame around the set's mean): {appearance:.1f}")
    print(f"  brightness between videos (std of each video's mean level): {brightness:.1f}")
    for k, name in enumerate(("negative", "neutral", "positive")):
        print(f"  within-clip change |frame_t - frame_0|, mean over pixels, {name:8s}: {c_tr[y_tr == k].mean():.2f}")
    frames = np.stack([m_tr[y_tr == k].mean(0) for k in range(3)])
    print(f"  class means of the mean frame (the expression held) differ by at most {np.abs(frames[2] - frames[0]).max():.1f}"
          f" (positive vs negative; RMS {np.sqrt(((frames[2] - frames[0]) ** 2).mean()):.2f})")
    class_means = np.stack([d_tr[y_tr == k].mean(0) for k in range(3)])
    print(f"  class means of last-minus-first frame differ by at most {np.abs(class_means[2] - class_means[0]).max():.1f}"
          f" (positive vs negative; RMS {np.sqrt(((class_means[2] - class_means[0]) ** 2).mean()):.2f})")
    for name, x_tr, x_te in (("last-minus-first frame", d_tr, d_te), ("mean frame (appearance)", m_tr, m_te)):
        scaler = StandardScaler().fit(x_tr)
        clf = LogisticRegression(C=0.05, max_iter=2000).fit(scaler.transform(x_tr), y_tr)
        acc = float((clf.predict(scaler.transform(x_te)) == test_set.labels).mean())
        print(f"  logistic regression on 28x28 {name}: held-out accuracy {acc:.3f}")


def _print_row(name: str, settings: dict[str, Any], r: dict[str, Any], seconds: float) -> None:
    changed = ",".join(f"{k}={v}" for k, v in settings.items() if v != BASE[k]) or "(base)"
    held = f"  test_acc {r['test_acc']:.3f}  macro-F1 {r['macro_f1']:.3f}  predicted {r['predicted']}" if "test_acc" in r else ""
    held += f"  dead conv channels {r['dead']}" if "dead" in r else ""
    print(f"{name:14s} {changed:45s} train_loss {r['train_loss']:.3f}  train_acc {r['train_acc']:.3f}{held}  "
          f"{seconds:.0f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_c3d_learning", description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=["memorise", "toy", "rendered", "signal"])
    parser.add_argument("out", nargs="?", type=Path,
                        help="rendered, signal: a protocol folder of bench_synthetic_set's output, e.g. OUT/leave-faces-out")
    parser.add_argument("--combo", action="append", help="name:key=value,... (repeatable; default: the diagnosis table)")
    parser.add_argument("--steps", type=int, default=120, help="memorise: optimiser steps")
    parser.add_argument("--epochs", type=int, default=30, help="toy / rendered: epochs")
    parser.add_argument("--signal", type=float, default=1.0, help="toy: how visible the class is (0..1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    try:
        combos = [parse_combo(s) for s in (args.combo or DEFAULT_COMBOS)]
    except ValueError as err:
        parser.error(str(err))
    if args.task in ("rendered", "signal") and args.out is None:
        parser.error(f"{args.task} needs a protocol folder OUT/<protocol> of "
                     "`python -m bench.bench_synthetic_set OUT --stages render,extract`")
    print("SYNTHETIC DATA: whether the C3D can learn, nothing about people.")
    if args.task == "memorise":
        print(f"memorise: 32 toy clips 112x112, random labels, {args.steps} steps (chance loss ln 3 = 1.099)")
    elif args.task == "toy":
        from models.training.synthetic import make_synthetic_split

        train_set, test_set = make_synthetic_split(test_volunteers=3, n_volunteers=12, videos_per_volunteer=6,
                                                   clip_size=112, clips_per_video=2, signal=args.signal, seed=args.seed)
    else:
        train_set, test_set = rendered_split(args.out)
    if args.task in ("toy", "rendered", "signal"):
        counts = test_set.class_counts()
        print(f"{args.task}: {len(train_set)} train / {len(test_set)} held-out videos {counts} "
              f"(majority share {max(counts) / sum(counts):.3f}), clips {train_set.clip_shape}")
    if args.task == "signal":
        signal_report(train_set, test_set)
        return 0
    for combo in combos:
        start = time.perf_counter()
        if args.task == "memorise":
            r = memorise(combo, args.steps, args.seed)
        else:
            r = learn(combo, train_set, test_set, args.epochs, args.seed)
        _print_row(combo.name, combo.settings, r, time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
