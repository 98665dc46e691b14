#!/usr/bin/env bash
# Set up everything the kit needs on a fresh Debian machine: system packages, a virtual
# environment in .venv and the pinned Python packages. Safe to run again: each step is
# skipped when it is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${IPE_VENV:-.venv}"
SYSTEM_PACKAGES=(chromium ffmpeg dataset-fashion-mnist iproute2 util-linux postgresql coturn nginx)  # nginx: tests/test_reverse_proxy.py

missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "==> installing system packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts coturn's own system service on installation, with its default configuration:
  # no authentication, every address. The kit runs its own (IPE_TURN=local), so stop that one.
  if [[ " ${missing[*]} " == *" coturn "* ]] && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now coturn.service >/dev/null 2>&1 || true
  fi
fi

# WebRTC video: let the recording server's UDP sockets have 4 MiB receive buffers (Linux's
# default cap is 208 KiB, about 100 packets: a key frame arriving while the server is busy
# overflows it). See annotation/webrtc_config.py. Skipped, with a note, without root.
want_rmem=4194304
rmem_max=$(cat /proc/sys/net/core/rmem_max 2>/dev/null || echo "$want_rmem")
if [ "$rmem_max" -lt "$want_rmem" ]; then
  if [ "$(id -u)" = 0 ] && sysctl -q -w net.core.rmem_max="$want_rmem" 2>/dev/null; then
    echo "==> raised net.core.rmem_max to $want_rmem"
  else
    echo "note: net.core.rmem_max is $rmem_max; as root run: sysctl -w net.core.rmem_max=$want_rmem" >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating virtual environment in $VENV"
  python3 -m venv "$VENV"
fi

stamp="$VENV/.ipe-requirements.sha256"
want=$(cat requirements.txt requirements-nodeps.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing Python packages (first run: several minutes; torch is large)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -r requirements.txt
  # These declare dependencies that would pull a second OpenCV build, TensorFlow or an old
  # torch; what they really need is already in requirements.txt.
  "$VENV/bin/python" -m pip install -q --no-deps -r requirements-nodeps.txt
  echo "$want" > "$stamp"
fi
echo "==> setup done ($VENV)"
