"""Test-only: log every socket connect/sendto destination of this Python process.

Put on PYTHONPATH (with IPE_NET_AUDIT_LOG set) by tests/browser_support.py so an
end-to-end test can assert the server never tried to reach anything but loopback.
"""
import json
import os
import sys

_LOG = os.environ.get("IPE_NET_AUDIT_LOG")


def _hook(event, args):
    if event not in ("socket.connect", "socket.sendto", "socket.getaddrinfo"):
        return
    try:
        if event == "socket.getaddrinfo":
            host = args[0]
        else:
            address = args[1] if event == "socket.connect" else args[-1]
            if not isinstance(address, tuple):
                return  # unix sockets
            host = address[0]
        if isinstance(host, bytes):
            host = host.decode(errors="replace")
        with open(_LOG, "a") as handle:
            handle.write(json.dumps({"event": event, "host": str(host) if host is not None else ""}) + "\n")
    except Exception:  # an audit hook must never break the program it watches
        pass


if _LOG:
    sys.addaudithook(_hook)
