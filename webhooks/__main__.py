"""`python -m webhooks --port P`: the receiver as a long-running process, beside the Prefect worker.

The key is SpotDraft's base64 `hmac_key`, from SPOTDRAFT_WEBHOOK_KEY or from a Prefect Secret
block (`--key-block NAME`); never from the command line, where any user of the machine could read
it in the process list. Each delivery is stored in the database (`--database-url`) before it is
answered; its event goes to the Prefect API that PREFECT_API_URL names (or the active profile's),
and its contract is synced by the sync worker this process runs (webhooks/sync_worker.py), unless
`--no-sync` leaves that to `python -m webhooks.sync_worker`. It listens on 127.0.0.1 by default:
SpotDraft delivers only over HTTPS with a publicly trusted certificate, so a TLS proxy (Caddy,
nginx, a load balancer) sits in front of it.
Connections are bounded in time and number (--head-timeout, --limit-concurrency, --backlog; see
webhooks/connections.py): a client that connects and sends nothing, or trickles, holds nothing for long.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

import httpx
import uvicorn

from store.database_url import check_database_url, default_database_url
from webhooks import sync_worker
from webhooks.connections import (
    DEFAULT_BACKLOG,
    DEFAULT_HEAD_TIMEOUT_S,
    DEFAULT_LIMIT_CONCURRENCY,
    receiver_protocol,
)
from webhooks.prefect_events import EventsNotConfigured, PrefectEventSink
from webhooks.receiver import BODY_TIMEOUT_S, DEFAULT_MAX_BODY_BYTES, WEBHOOK_PATH, create_app
from webhooks.signature import WebhookKeyError, decode_key

KEY_VARIABLE = "SPOTDRAFT_WEBHOOK_KEY"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m webhooks",
        description=f"Receive SpotDraft webhook deliveries on POST {WEBHOOK_PATH}: each is stored, emitted as a "
                    "Prefect event and its contract synced into the database.",
    )
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: put a TLS proxy in front)")
    parser.add_argument("--key-block", metavar="NAME",
                        help=f"a Prefect Secret block holding the key (instead of ${KEY_VARIABLE})")
    parser.add_argument("--database-url",
                        help="where deliveries are stored before they are answered, and the syncs write (no password: "
                             "PGPASSWORD or ~/.pgpass) (default: the flows' default database)")
    parser.add_argument("--no-sync", dest="sync", action="store_false",
                        help="store and emit only: the contracts are synced by python -m webhooks.sync_worker")
    sync_worker.add_options(parser, prefix="sync-")
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES,
                        help=f"larger deliveries are refused with 413 unread (default {DEFAULT_MAX_BODY_BYTES})")
    parser.add_argument("--head-timeout", type=_positive(float), default=DEFAULT_HEAD_TIMEOUT_S, metavar="SECONDS",
                        help="a connection that has not sent a whole request head this long after opening (or after "
                             "its previous answer) is closed, with 408 if part of one arrived; the body has its own "
                             f"{BODY_TIMEOUT_S:g} s (default {DEFAULT_HEAD_TIMEOUT_S:g})")
    parser.add_argument("--limit-concurrency", type=_positive(int), default=DEFAULT_LIMIT_CONCURRENCY, metavar="N",
                        help="open connections at most: when reached, a new connection closes the one that has "
                             "waited longest for its request head, or gets 503 if all are busy with requests "
                             f"(default {DEFAULT_LIMIT_CONCURRENCY})")
    parser.add_argument("--backlog", type=_positive(int), default=DEFAULT_BACKLOG, metavar="N",
                        help="connections the kernel queues before the receiver accepts them (listen backlog; "
                             f"capped by net.core.somaxconn) (default {DEFAULT_BACKLOG})")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return parser.parse_args(argv)


def _positive(kind: type[int] | type[float]):
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0:  # NaN too
            raise argparse.ArgumentTypeError(f"must be more than 0: {text!r}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def _key(block_name: str | None) -> bytes:
    """The decoded key from the Secret block or the environment variable; exactly one must be given."""
    from_environment = os.environ.get(KEY_VARIABLE)
    if block_name and from_environment:
        raise WebhookKeyError(f"both --key-block and {KEY_VARIABLE} are given: choose one")
    if block_name:
        return decode_key(_secret_block_text(block_name), f"the Secret block {block_name!r}")
    if from_environment is None:
        raise WebhookKeyError(f"no webhook key: set {KEY_VARIABLE} or give --key-block NAME")
    return decode_key(from_environment, KEY_VARIABLE)


def _secret_block_text(name: str) -> str:
    from prefect.blocks.system import Secret

    try:
        secret: Secret = asyncio.run(Secret.aload(name))
        value = secret.get()
    except (ValueError, httpx.HTTPError) as error:  # ValueError: Prefect's "Unable to find block document ..."
        reason = f"{type(error).__name__}: {error}"
        raise WebhookKeyError(f"the Secret block {name!r} could not be loaded ({reason})") from None
    if not isinstance(value, str):
        raise WebhookKeyError(f"the Secret block {name!r} does not hold text")
    return value


def main(argv: list[str] | None = None) -> int:
    arguments = _arguments(argv)
    try:
        database_url = check_database_url(arguments.database_url or default_database_url())
        sink = PrefectEventSink()  # first: the key block is read from that same API
        key = _key(arguments.key_block)
    except (WebhookKeyError, EventsNotConfigured, ValueError) as error:
        print(f"webhooks: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=arguments.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per delivery is ours; not one per API call
    syncs = None
    if arguments.sync:
        syncs = sync_worker.SyncWorker(database_url, credentials_block=arguments.credentials_block,
                                       settle_seconds=arguments.settle_seconds, concurrency=arguments.concurrency)
    app = create_app(key, database_url=database_url, sink=sink, sync_worker=syncs,
                     max_body_bytes=arguments.max_body_bytes)
    # h11, not httptools: h11 caps a request's head at 16 KiB, httptools reads any size of headers into
    # memory before our checks run (an unsigned 128 MB header cost 260 MB). Our subclass of it adds a
    # deadline for the head and makes room under the connection cap (connections.py). No websockets.
    uvicorn.run(app, host=arguments.host, port=arguments.port, log_level=arguments.log_level,
                http=receiver_protocol(arguments.head_timeout), ws="none",
                limit_concurrency=arguments.limit_concurrency, backlog=arguments.backlog,
                server_header=False, timeout_graceful_shutdown=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
