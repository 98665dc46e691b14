"""Exponential back-off of password and code tries, per client (UI-free, thread-safe).

After ``free_tries`` wrong tries from one client, each further try must wait
``base_s * 2**(n - free_tries)`` seconds after the last wrong one (at most ``max_s``); a try
during the wait is refused without checking it, and a right one clears the client's record.
Clients are told apart by what the server knows (their address); behind one proxy every
visitor shares one address and so one back-off, which errs on the side of refusing.
"""
from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class BackOffPolicy:
    free_tries: int = 3
    base_s: float = 1.0
    max_s: float = 300.0
    max_clients: int = 10_000  # the oldest record is dropped beyond this (memory stays bounded)

    def delay_s(self, failures: int) -> float:
        if failures < self.free_tries:
            return 0.0
        return min(self.max_s, self.base_s * 2.0 ** min(failures - self.free_tries, 64))


class BackOff:
    """Wrong tries per client; ``wait_s`` says how long a client must still wait."""

    def __init__(self, policy: BackOffPolicy = BackOffPolicy(), clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self._records: OrderedDict[str, tuple[int, float]] = OrderedDict()  # client -> (failures, last failure)
        self._lock = threading.Lock()

    def wait_s(self, client: str) -> float:
        with self._lock:
            failures, last = self._records.get(client, (0, 0.0))
        return max(0.0, last + self.policy.delay_s(failures) - self._clock())

    def failed(self, client: str) -> None:
        with self._lock:
            failures, _ = self._records.pop(client, (0, 0.0))
            self._records[client] = (failures + 1, self._clock())
            while len(self._records) > self.policy.max_clients:
                self._records.popitem(last=False)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._records.pop(client, None)


def wait_message(seconds: float) -> str:
    return (f"Too many wrong tries from your connection: wait {math.ceil(seconds)} s and try again "
            "(each further wrong try doubles the wait).")
