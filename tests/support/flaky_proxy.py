"""A TCP proxy in front of a Prefect server that can be told to fail: every request answered 503 (as a SQLite-backed
server under load answers), or passed through (HTTP and websockets alike, byte for byte). When its upstream is
down, connections to it are closed, as a client would see a stopped server."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

from tools.prefect_server import free_port

UNAVAILABLE = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 33\r\n"
               b"Connection: close\r\n\r\n{\"detail\": \"Service Unavailable\"}")


class FlakyProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port, self.port = upstream_port, free_port()
        self.failing = False
        self.refused = 0  # requests answered 503
        self._loop = asyncio.new_event_loop()
        self._open: set[asyncio.StreamWriter] = set()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def fail(self, failing: bool = True) -> None:
        """Answer 503 from now on (open connections are closed, so no request slips through them), or stop."""
        self.failing = failing
        if failing:
            asyncio.run_coroutine_threadsafe(self._close_all(), self._loop).result(10)

    @contextlib.contextmanager
    def running(self) -> Iterator[FlakyProxy]:
        started = threading.Event()

        async def serve() -> None:
            server = await asyncio.start_server(self._connection, "127.0.0.1", self.port)
            started.set()
            async with server:
                with contextlib.suppress(asyncio.CancelledError):
                    await server.serve_forever()

        thread = threading.Thread(target=self._loop.run_until_complete, args=(serve(),), daemon=True)
        thread.start()
        assert started.wait(10), "the proxy did not start"
        try:
            yield self
        finally:
            self._loop.call_soon_threadsafe(lambda: [task.cancel() for task in asyncio.all_tasks(self._loop)])
            thread.join(10)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        try:
            if self.failing:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                    self.refused += 1
                    writer.write(UNAVAILABLE)
                    await writer.drain()
                return
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            except OSError:
                return  # the server is down: the client sees the connection closed
            self._open.add(up_writer)
            try:
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            finally:
                self._open.discard(up_writer)
                up_writer.close()
        finally:
            self._open.discard(writer)
            writer.close()

    async def _close_all(self) -> None:
        for writer in list(self._open):
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(Exception):
        writer.close()
