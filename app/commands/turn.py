"""``python -m app turn``: start the TURN server `scripts/run.sh` runs with ``IPE_TURN=local`` (core/turn.py)."""
from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "turn", help="start the IPE_TURN=local TURN server (coturn) and print its process id",
        description="With IPE_TURN=local: writes coturn's configuration under <home>/turn (a shared secret made once, "
        "mode 0600), starts Debian's turnserver on IPE_HOST:IPE_TURN_PORT (UDP and TCP), waits until it listens and "
        "prints its process id on stdout (stop it with kill PID; scripts/run.sh does). Nothing with IPE_TURN=off, "
        "nor with IPE_CAPTURE=browser (its takes are uploaded over HTTPS; one line says so).")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.paths import DataHome
    from core.settings import load_settings
    from core.turn import start

    settings = load_settings()
    turn = settings.local_turn()
    if turn is None:
        return 0
    if settings.capture == "browser":  # takes are uploaded over HTTPS: no media path for a relay to carry
        print("IPE_TURN=local is for the live WebRTC path; with IPE_CAPTURE=browser the takes are uploaded over "
              "HTTPS, so no TURN server is started (unset IPE_TURN, or set IPE_CAPTURE=webrtc)", file=sys.stderr)
        return 0
    folder = DataHome.resolve(args.home).root / "turn"
    proc = start(turn, folder)
    print(proc.pid)
    print(f"TURN server (coturn, pid {proc.pid}) on {' and '.join(turn.urls())}; log and configuration in {folder}",
          file=sys.stderr)
    return 0
