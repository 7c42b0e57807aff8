"""Serving on loopback from a thread of the test's process: an ASGI app (the webhook receiver) under uvicorn,
or a directory of static files."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

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


@contextlib.contextmanager
def static_files(directory: Path) -> Iterator[str]:
    """Serve `directory` on loopback (the Block's logo, as a server without internet would host it)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
