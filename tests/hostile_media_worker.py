"""Hostile uploads against the demo's service and the feature extractor, in a child process
whose peak memory the parent measures (tests/app/test_hostile_media.py).

    python tests/hostile_media_worker.py measure FOLDER LIMIT_AS_BYTES  -> prints JSON
    python tests/hostile_media_worker.py work FOLDER                    -> prints JSON

``measure`` runs ``work`` as its only child, under an address-space limit (so code that does
decode a hostile file fails with MemoryError instead of taking the machine), and reports the
child's peak RSS from ``resource.getrusage(RUSAGE_CHILDREN)``. FOLDER holds the inputs the
test made (tests/hostile_media.py).
"""
from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measure(folder: Path, limit_as: int) -> dict:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as))

    done = subprocess.run([sys.executable, __file__, "work", str(folder)], cwd=ROOT, capture_output=True, text=True,
                          preexec_fn=limit, timeout=900)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        cases = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        cases = {}
    return {"peak_rss_kib": usage.ru_maxrss, "returncode": done.returncode, "cases": cases,
            "stderr_tail": done.stderr[-3000:]}


def work(folder: Path) -> dict:
    import numpy as np

    from app.serving import DemoService
    from core.errors import IPEError
    from core.paths import DataHome
    from core.reaction.descriptor import extract_features

    home = DataHome.resolve(folder / "home")
    service = DemoService(home)
    pref, wide = str(home.runs / "pref"), str(home.runs / "wide")  # by path: the demo takes both path and run id
    results: dict[str, dict] = {}

    def case(name: str, action) -> None:
        start = time.perf_counter()
        try:
            value = action()
            outcome = {"refused": False, "value": value}
        except IPEError as err:
            outcome = {"refused": True, "error": type(err).__name__, "message": str(err)}
        except MemoryError as err:  # what unbounded code meets under the parent's address-space limit
            outcome = {"refused": False, "error": "MemoryError", "message": str(err)[:200]}
        except RuntimeError as err:  # torch's allocator says "can't allocate memory"
            outcome = {"refused": False, "error": type(err).__name__, "message": str(err)[:200]}
        outcome["seconds"] = round(time.perf_counter() - start, 2)
        outcome["rss_kib_so_far"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        results[name] = outcome

    case("png_12000_preference", lambda: service.analyse_image(str(folder / "huge.png"), pref).p_preferred)
    case("video_4096_reaction", lambda: service.analyse_reaction(str(folder / "huge.mp4"), wide).variant)
    case("video_4096_extract", lambda: len(extract_features(folder / "huge.mp4").clips))
    case("c3d_width_64_run", lambda: service.analyse_reaction(str(folder / "small.mp4"), wide).variant)
    case("png_6000_preference", lambda: list(np.shape(service.analyse_image(str(folder / "large.png"), pref).overlay)))
    return results


if __name__ == "__main__":
    mode, target = sys.argv[1], Path(sys.argv[2])
    out = measure(target, int(sys.argv[3])) if mode == "measure" else work(target)
    print(json.dumps(out))
