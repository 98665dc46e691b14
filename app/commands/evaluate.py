"""``python -m app evaluate``: score a trained reaction run on a fold."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from app.cli_args import add_attribution_args, add_data_args

    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a trained reaction run: accuracy, per-class P/R/F1, macro-F1, confusion matrix",
        description="Load <run> (a run folder or its model/ checkpoint; safetensors only) and score it on the "
        "test fold of the given data.",
    )
    parser.add_argument("run_folder", help="run folder (e.g. var/runs/plm-ipe-...) or checkpoint folder")
    parser.add_argument("--json", dest="json_out", help="also write the metrics to this JSON file")
    parser.add_argument("--attribution", metavar="DIR",
                        help="also explain the LBE on the test fold: mean region shares per class (integrated "
                        "gradients) as attribution.md, region_shares.csv/.png and attribution.json in DIR")
    add_data_args(parser)
    add_attribution_args(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from core.labels import CLASS_NAMES
    from app.cli_args import load_data
    from models.training.evaluate import degenerate_warning, evaluate_model
    from models.training.run_folder import load_model
    from models.training.volunteer_norm import apply_volunteer_norm

    model, config = load_model(args.run_folder)
    _, test_set, info = load_data(args, need_train=False)
    # scored the way the run was trained (runs saved before the option: "none")
    volunteer_norm = (config.get("train") or {}).get("volunteer_norm", "none")
    test_set = apply_volunteer_norm(test_set, volunteer_norm)
    metrics = evaluate_model(model, test_set)
    print(f"{config['variant']} on {info['split']} / {args.test_fold}: {len(test_set)} videos"
          + (" [SYNTHETIC DATA]" if test_set.synthetic else ""))
    warnings = []
    for head, m in metrics.items():
        marker = f"  [degenerate: predicts only {m['degenerate']}]" if m["degenerate"] else ""
        print(f"  {head}: accuracy {100 * m['accuracy']:.2f}%  macro-F1 {100 * m['macro_f1']:.2f}%{marker}")
        for k, name in enumerate(CLASS_NAMES):
            print(f"    {name:9s} P {m['precision'][k]:.3f} R {m['recall'][k]:.3f} F1 {m['f1'][k]:.3f}")
        print(f"    confusion (rows true, cols predicted): {m['confusion']}")
        warnings.append(degenerate_warning(head, m))
    for line in filter(None, warnings):
        print(line)
    if args.attribution:
        from core.errors import IPEError
        from app.cli_args import attribution_config
        from models.training.attribution_report import write_attribution_report

        if model.lbe is None:
            raise IPEError(f"{args.run_folder} is a {config['variant']} run without an LBE: nothing to attribute; "
                           "drop --attribution")
        lines = write_attribution_report(model.lbe, test_set, args.attribution, attribution_config(args))
        print("\n".join(line for line in lines if line.startswith("|")))
        print(f"attribution: {Path(args.attribution) / 'attribution.md'}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"variant": config["variant"], "split": info["split"], "metrics": metrics}, indent=2))
    return 0
