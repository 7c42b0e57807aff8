"""`python -m sandbox`: the sandbox in the foreground, for `make demo`, benchmarks and kill tests.

Prints `sandbox listening on http://HOST:PORT` (and, with --http-port, `sandbox http listener on
http://HOST:PORT`) once it serves, then nothing more on stdout; stops cleanly on SIGTERM/SIGINT.
Fault flags are derived from the `Faults` dataclass, so the CLI and the Python API cannot drift.
The client secret can come from $SANDBOX_CLIENT_SECRET, and the webhook HMAC key (Base64; random by
default) from $SANDBOX_WEBHOOK_KEY, instead of the command line, which other users of the machine can read.
"""

from __future__ import annotations

import argparse
import os
import sys
import typing
from dataclasses import fields

from .faults import Faults
from .server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SECRET_ENV, WEBHOOK_KEY_ENV, Sandbox


def _fault_flag(name: str) -> str:
    return "--fault-seed" if name == "seed" else "--" + name.replace("_", "-")


def _metavar(name: str) -> str:
    if name.startswith("p_"):
        return "P"
    return {"rate_limit": "RPS", "rate_burst": "N", "rate_shape": "{bucket,fixed,sliding}",
            "rate_window_s": "SECONDS", "latency_ms": "MS", "timeout_sleep_s": "SECONDS",
            "retry_after_s": "SECONDS",
            "ambiguous_mode": "{504,drop,mixed}", "seed": "N"}.get(name, "X")  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--http-port",
        type=int,
        default=None,
        help="also listen here as the plain-http listener (302 to https); 0 = free port",
    )
    parser.add_argument("--contracts", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", default=os.environ.get(SECRET_ENV, DEFAULT_CLIENT_SECRET))
    parser.add_argument("--workspace-id", type=int, default=1)
    parser.add_argument(
        "--duplicate-rule",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="answer 409 to a create whose external_metadata.id is taken (SpotDraft promises no such rule; "
        "--no-duplicate-rule creates another contract)",
    )
    parser.add_argument("--webhook-key", default=os.environ.get(WEBHOOK_KEY_ENV),
                        help=f"the webhook HMAC key, Base64 (prefer ${WEBHOOK_KEY_ENV}); default: random")
    parser.add_argument(
        "--bearer-token", default=None, help="accept `Authorization: Bearer TOKEN` where documented"
    )
    faults = parser.add_argument_group("faults (all off by default)")
    hints = typing.get_type_hints(Faults)
    for f in fields(Faults):
        kind = hints[f.name]
        if kind is bool:  # --rate-retry-after / --no-rate-retry-after
            faults.add_argument(_fault_flag(f.name), dest=f"fault_{f.name}", default=f.default,
                                action=argparse.BooleanOptionalAction)
            continue
        convert = str if kind is str else int if f.name == "seed" else float
        faults.add_argument(
            _fault_flag(f.name),
            dest=f"fault_{f.name}",
            type=convert,
            default=f.default,
            metavar=_metavar(f.name),
        )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    faults = Faults(**{f.name: getattr(args, f"fault_{f.name}") for f in fields(Faults)})
    sandbox = Sandbox(
        contracts=args.contracts,
        seed=args.seed,
        faults=faults,
        host=args.host,
        port=args.port,
        http_port=False if args.http_port is None else args.http_port,
        client_id=args.client_id,
        client_secret=args.client_secret,
        workspace_id=args.workspace_id,
        bearer_token=args.bearer_token,
        duplicate_rule=args.duplicate_rule,
        webhook_key=args.webhook_key,
    )

    def ready(sb: Sandbox) -> None:
        print(f"sandbox listening on {sb.base_url}", flush=True)
        if sb.http_url:
            print(f"sandbox http listener on {sb.http_url}", flush=True)

    sandbox.serve_forever(on_ready=ready)
    return 0


if __name__ == "__main__":
    sys.exit(main())
