"""The limiter's clock: time.monotonic and time.sleep, unless a test injects a fake one."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    now = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)
