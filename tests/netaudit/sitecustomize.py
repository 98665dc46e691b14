"""Test-only: log every socket connect/sendto destination of this Python process.

Put on PYTHONPATH (with IPE_NET_AUDIT_LOG set) by tests/browser_support.py so an
end-to-end test can assert the server never tried to reach anything but loopback.
Also, each switched on by its own environment variable: a timestamped log of the WebRTC
stack's signalling/ICE/DTLS states and of the server's pauses (IPE_TEST_WEBRTC_LOG), a pause
of the whole server right after a connection is made (IPE_TEST_SERVER_PAUSE_S), and a first
connection that delivers no frames (IPE_TEST_SILENT_FIRST_CONNECTION).
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


def _webrtc_log(path: str) -> None:
    """Test-only: the WebRTC stack's signalling, ICE and DTLS states, timestamped, to ``path``."""
    import logging

    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d %(threadName)s %(name)s %(levelname)s %(message)s",
                                           "%H:%M:%S"))
    # per-packet loggers (rtcrtpreceiver, rtcrtpsender) stay quiet: thousands of lines a second
    for name in ("aiortc.rtcpeerconnection", "aiortc.rtcicetransport", "aiortc.rtcdtlstransport", "aioice.ice",
                 "streamlit_webrtc", "annotation"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    import threading

    threading.Thread(target=_watch_stalls, args=(logging.getLogger("annotation.stalls"),), daemon=True,
                     name="stall-monitor").start()


def _watch_stalls(log) -> None:
    """Log each pause of this process (a 50 ms sleep that took > 250 ms: CPU or GIL starvation) and
    of the server's event loop (a callback queued on it that ran > 250 ms late), with their length."""
    import time

    loop = None
    while True:
        start = time.monotonic()
        time.sleep(0.05)
        late = time.monotonic() - start - 0.05
        if late > 0.25:
            log.warning("process paused %.2f s", late)
        if loop is None:
            # never import here: this thread would race the server's own imports
            runtime = getattr(sys.modules.get("streamlit.runtime.runtime"), "Runtime", None)
            objs = getattr(getattr(runtime, "_instance", None), "_async_objs", None)
            if objs is None:  # the runtime is not up yet
                continue
            loop = objs.eventloop
        queued = time.monotonic()
        ran = []
        try:
            loop.call_soon_threadsafe(lambda: ran.append(time.monotonic()))
        except RuntimeError:  # the loop is closed: the server is stopping
            return
        deadline = queued + 30
        while not ran and time.monotonic() < deadline:
            time.sleep(0.01)
        lag = (ran[0] if ran else time.monotonic()) - queued
        if lag > 0.25:
            log.warning("event loop lagged %.2f s", lag)


if os.environ.get("IPE_TEST_WEBRTC_LOG"):
    _webrtc_log(os.environ["IPE_TEST_WEBRTC_LOG"])


def _pause_after_connect(seconds: float) -> None:
    """Test-only: hold this process (GIL and event loop) for ``seconds``, 0.5 s after each WebRTC
    connection's DTLS handshake completes: what a cold start's first imports do on a cold disk."""
    import asyncio
    import time

    import aiortc.rtcdtlstransport as dtls

    original = dtls.RTCDtlsTransport._set_state

    def set_state(self, state):
        original(self, state)
        if state == dtls.State.CONNECTED:
            asyncio.get_event_loop().call_later(0.5, time.sleep, seconds)

    dtls.RTCDtlsTransport._set_state = set_state


if os.environ.get("IPE_TEST_SERVER_PAUSE_S"):
    _pause_after_connect(float(os.environ["IPE_TEST_SERVER_PAUSE_S"]))


def _silence_first_connection() -> None:
    """Test-only: the first WebRTC connection's video packets are dropped on arrival, so that
    connection is up (ICE, DTLS) but delivers no frame: what the camera watchdog must repair."""
    import aiortc.rtcrtpreceiver as receiver

    original = receiver.RTCRtpReceiver._handle_rtp_packet
    first: list = []

    async def handle(self, packet, arrival_time_ms):
        if not first:
            first.append(self)
        if self is first[0]:
            return
        return await original(self, packet, arrival_time_ms)

    receiver.RTCRtpReceiver._handle_rtp_packet = handle


if os.environ.get("IPE_TEST_SILENT_FIRST_CONNECTION") == "1":
    _silence_first_connection()
