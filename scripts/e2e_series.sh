#!/usr/bin/env bash
# Run the recording end-to-end tests back to back, as the series in docs/recording-e2e-runs.md were run.
#
#   bash scripts/e2e_series.sh [PLAN...]      e.g.  bash scripts/e2e_series.sh L B L B I B L
#
# PLAN items: L = the live path's E2E (tests/annotation/test_e2e_recording.py), B = the browser-recorded
# path's (tests/annotation/test_e2e_browser_capture.py), I = 10 minutes in which nothing runs (start
# nothing else on the machine meanwhile: the next run is a cold start). Default: 20 of each, alternating,
# with a pause before the 11th browser run and before the 16th live run. Each run uses a snapshot of
# the commit checked out now (git archive), so editing the working tree does not change the series.
# One line per run goes to $OUT/results.txt (default OUT=/tmp/ipe-e2e-series): the run, the commit,
# the exit status, the wall time, the start time, the load average at start and end, pytest's summary;
# each run's log and temporary folders (data homes, stored videos, browser and WebRTC logs) stay in
# $OUT/runs/. No run is retried: a failure is a line like the others.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/ipe-e2e-series}
PY=${PY:-$PWD/.venv/bin/python}
sha=$(git rev-parse --short HEAD)
src=$OUT/src-$sha
mkdir -p "$OUT/runs"
if [ ! -d "$src" ]; then mkdir -p "$src" && git archive "$sha" | tar -x -C "$src"; fi
plan=("$@")
if [ ${#plan[@]} = 0 ]; then
  plan=()
  for i in $(seq 1 20); do
    [ "$i" = 11 ] && plan+=(I B L) && continue
    [ "$i" = 16 ] && plan+=(I L B) && continue
    plan+=(L B)
  done
fi
n_l=0; n_b=0
run() {  # LABEL TESTFILE
  local label=$1 file=$2 out=$OUT/runs/$1 start end l0 l1 rc
  mkdir -p "$out"
  start=$(date +%s); l0=$(cut -d' ' -f1 /proc/loadavg)
  (cd "$src" && GRADIO_ANALYTICS_ENABLED=False "$PY" -m pytest -p no:cacheprovider "$file" --basetemp="$out/tmp" -q -rA) \
    > "$out/log" 2>&1
  rc=$?
  end=$(date +%s); l1=$(cut -d' ' -f1 /proc/loadavg)
  echo "$label $sha rc=$rc wall=$((end - start))s start=$(date -u -d @"$start" +%H:%M) load=$l0->$l1 $(tail -1 "$out/log")" \
    | tee -a "$OUT/results.txt"
}
for item in "${plan[@]}"; do
  case $item in
    I) echo "idle from $(date -u +%H:%M) for 600 s" | tee -a "$OUT/results.txt"; sleep 600;;
    L) n_l=$((n_l + 1)); run "live$n_l" tests/annotation/test_e2e_recording.py;;
    B) n_b=$((n_b + 1)); run "browser$n_b" tests/annotation/test_e2e_browser_capture.py;;
    *) echo "unknown plan item $item (L, B or I)" >&2; exit 2;;
  esac
done
