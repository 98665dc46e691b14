"""A real TURN client for the tests (aioice's, which aiortc uses): allocate a relay on a TURN server,
send a datagram through it to a UDP echo peer and wait for the echo, or see the server refuse.

    python tests/turn_client.py SERVER PORT USER PASSWORD PEER   # prints a JSON report

The command form runs inside a network namespace (``tests/test_turn.py``)."""
from __future__ import annotations

import asyncio
import json
import sys

import aioice.turn
from aioice import stun


class _Echo(asyncio.DatagramProtocol):
    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        self.transport.sendto(b"echo:" + data, addr)


class _Inbox(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue = asyncio.Queue()

    def datagram_received(self, data: bytes, addr) -> None:
        self.queue.put_nowait((data, addr))


async def relay_round_trip(server: tuple[str, int], username: str, password: str, peer: str,
                           transport: str = "udp", refused_peer: str | None = None) -> dict:
    """Allocate a relay on ``server`` with the credentials, bounce a datagram off an echo peer on
    ``peer`` through it; with ``refused_peer``, also ask for a channel to that address. Returns what
    happened: the relayed address, the echo, the refusal (a failed allocation is an ``error``)."""
    loop = asyncio.get_running_loop()
    echo, _ = await loop.create_datagram_endpoint(_Echo, local_addr=(peer, 0))
    report: dict = {}
    try:
        relay, inbox = await aioice.turn.create_turn_endpoint(_Inbox, server, username, password,
                                                              transport=transport)
    except stun.TransactionFailed as err:
        echo.close()
        return {"error": err.response.attributes.get("ERROR-CODE", (0, ""))[0]}
    try:
        report["relayed"] = list(relay.get_extra_info("related_address"))
        relay.sendto(b"ping", echo.get_extra_info("sockname"))
        data, addr = await asyncio.wait_for(inbox.queue.get(), 10)
        report["echo"] = data.decode()
        report["echo_from"] = addr[0]
        if refused_peer:
            inner = relay._TurnTransport__inner_protocol  # aioice's client; its channel_bind raises on a refusal
            try:
                await inner.channel_bind(0x4001, (refused_peer, 9))
                report["refused"] = None
            except stun.TransactionFailed as err:
                report["refused"] = err.response.attributes.get("ERROR-CODE", (0, ""))[0]
    finally:
        relay.close()
        echo.close()
        await asyncio.sleep(0.1)  # let the relay's deletion go out
    return report


if __name__ == "__main__":
    host, port, user, password, peer = sys.argv[1:6]
    refused = sys.argv[6] if len(sys.argv) > 6 else None
    print(json.dumps(asyncio.run(relay_round_trip((host, int(port)), user, password, peer, refused_peer=refused))))
