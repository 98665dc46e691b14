#!/usr/bin/env bash
# Set up (if needed), initialise the data home with the demo catalog, and start the product:
# the Streamlit collection/labeling app (and the Gradio demo once it exists). Ctrl-C stops all.
# One Streamlit server serves volunteers (/), labelers (/labeling_page) and researchers
# (/researcher_page): one process must own the DuckDB store. Its settings: .streamlit/config.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

export IPE_HOME="${IPE_HOME:-$PWD/var}"
export GRADIO_ANALYTICS_ENABLED=False
HOST="${IPE_HOST:-127.0.0.1}"
ST_PORT="${IPE_STREAMLIT_PORT:-8501}"
GR_PORT="${IPE_GRADIO_PORT:-7860}"
PY=.venv/bin/python

"$PY" -m app init
# the small DEMO models the demo shows on a fresh clone: made once (minutes on a CPU), then kept;
# if they cannot be made the apps still start (the message above says why)
"$PY" -m app demo-models || echo "DEMO models not made; the demo starts without them (run: $PY -m app demo-models)"

# Researcher pages need a password: take $IPE_RESEARCHER_PASSWORD, else make one once and
# keep it (readable by this user only) in the data home.
if [ -z "${IPE_RESEARCHER_PASSWORD:-}" ]; then
  pw_file="$IPE_HOME/researcher-password"
  if [ ! -s "$pw_file" ]; then
    (umask 077; "$PY" -c 'import secrets; print(secrets.token_urlsafe(12))' > "$pw_file")
  fi
  IPE_RESEARCHER_PASSWORD="$(cat "$pw_file")"
  export IPE_RESEARCHER_PASSWORD
  echo "researcher password: stored in $pw_file"
fi

# HTTPS (browsers give the camera only to https:// pages, or http:// on this machine itself):
# IPE_TLS_CERT/IPE_TLS_KEY, else a self-signed certificate made once under the data home when
# IPE_HOST is not a loopback address (IPE_TLS=on|off overrides; README "Serving other machines")
tls_files="$("$PY" -m app tls)"  # a bad IPE_TLS* value stops here (set -e), never falls back to HTTP
mapfile -t tls <<< "$tls_files"
tls_args=()
SCHEME=http
if [ "${#tls[@]}" -eq 2 ]; then
  tls_args=(--server.sslCertFile "${tls[0]}" --server.sslKeyFile "${tls[1]}")
  SCHEME=https
fi

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT INT TERM

# IPE_TURN=local: a TURN server (coturn) for remote volunteers on the live path, stopped with the
# rest (README "Remote volunteers on the live path: TURN"); prints nothing when IPE_TURN is off,
# and a bad setting or a missing turnserver stops here with one line
turn_pid="$("$PY" -m app turn)"
if [ -n "$turn_pid" ]; then pids+=("$turn_pid"); fi

# with IPE_CAPTURE=browser the app runs with its upload routes beside it (annotation/serve.py);
# the live WebRTC path keeps the plain Streamlit server its end-to-end tests run against
APP=annotation/home.py
if [ "${IPE_CAPTURE:-webrtc}" = browser ]; then APP=annotation/serve.py; fi
"$PY" -m streamlit run "$APP" \
  --server.headless true --server.address "$HOST" --server.port "$ST_PORT" \
  --browser.gatherUsageStats false --server.fileWatcherType none "${tls_args[@]}" &
pids+=($!)

if [ -f app/demo.py ]; then
  "$PY" -m app.demo --host "$HOST" --port "$GR_PORT" &
  pids+=($!)
fi

sleep 3
echo
echo "  study link for volunteers (nothing else on it):     $SCHEME://$HOST:$ST_PORT/"
echo "  labelers:                                         $SCHEME://$HOST:$ST_PORT/labeling_page"
echo "  researchers (password):                           $SCHEME://$HOST:$ST_PORT/researcher_page"
[ -f app/demo.py ] && echo "  model demo (Gradio):                              http://$HOST:$GR_PORT"
echo "  data home: $IPE_HOME   (Ctrl-C to stop)"
wait
