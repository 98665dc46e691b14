"""A collection server's session planning in its own process, for the reservation tests.

``python -m tests.store.plan_worker HOME FOLDER VOLUNTEER_ID...`` opens the store as the app does
(``IPE_STORE_URL`` or the home's DuckDB file) and prints ``ready``; then, for the k-th volunteer,
waits until ``FOLDER/go-k`` exists and starts that volunteer's planned session (3 outfits, the
same tie-breaking seed in every process, so only the reservations can keep two plans apart),
printing one JSON line: the session id and its plan.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from core.collection.session_plan import start_planned_session
from core.store import Store


def main(home: str, folder: str, volunteers: list[str]) -> None:
    with Store.open(home) as store:
        print("ready", flush=True)
        for k, volunteer_id in enumerate(volunteers):
            go = Path(folder) / f"go-{k}"
            while not go.exists():
                time.sleep(0.001)
            session_id, plan = start_planned_session(store, volunteer_id, n=3, seed="same")
            print(json.dumps({"session_id": session_id, "plan": plan}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
