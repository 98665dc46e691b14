"""``python -m tests.models.training.killed_training EPOCH APP-ARGS...``: ``python -m app APP-ARGS...``
that kills itself (SIGKILL, nothing cleaned up) right after the training state of epoch EPOCH is saved.

A kill at a known point, for the resume test: a test that polls the state file and then sends the
signal races the training, and on a loaded machine the run can reach its last epoch between two polls.
"""
from __future__ import annotations

import os
import signal
import sys

import models.training.train as train


def main(epoch: int, args: list[str]) -> int:
    save_state = train.save_state

    def save_then_die(run_dir, state):
        path = save_state(run_dir, state)
        if state.epoch >= epoch:
            os.kill(os.getpid(), signal.SIGKILL)
        return path

    train.save_state = save_then_die  # train.py calls it by this name
    from app.cli import main as app_main

    return app_main(args)


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), sys.argv[2:]))
