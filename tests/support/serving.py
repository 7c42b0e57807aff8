"""An ASGI app (the webhook receiver) served by uvicorn in a thread of the test's process."""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Iterator

import uvicorn

from tools.prefect_server import free_port


@contextlib.contextmanager
def serving(app, *, log_level: str = "warning") -> Iterator[int]:
    """`app` under uvicorn in a thread, in this context's Prefect settings; yields its port."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level=log_level))
    thread = threading.Thread(target=contextvars.copy_context().run, args=(server.run,), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the in-process receiver did not start"
            time.sleep(0.05)
        yield server.config.port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
