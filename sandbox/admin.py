"""`/_sandbox/...`: the controls (controls.py) as HTTP routes, for a sandbox in another process.

Path parameters come from the path, the others from the query (GET, DELETE) or the JSON body. They
need no credentials, see no faults and are not logged: they are the test's hands, not traffic under
test (the sandbox only listens on loopback). 404 for an unknown id, 409 for a refused step, 400 else.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from .controls import Control, Controls, routes
from .data import StepRefused
from .wire import Reply, error, json_reply

if TYPE_CHECKING:
    from .app import SandboxApp

PREFIX = "/_sandbox/"


class Admin:
    def __init__(self, app: SandboxApp):
        self.controls = Controls(app)
        self.routes = list(routes())

    async def handle(self, req: Any) -> Reply:
        try:
            found = self.match(req.method, req.path)
            if found is None:
                return error(404, f"No admin endpoint {req.method} {req.path}.")
            declared, params = found
            if req.method in ("GET", "DELETE"):
                params.update(parse_qsl(req.query_string))
            else:
                params.update(_body(req.body))
            if declared.serve is not None:
                status, answer = await declared.serve(self.controls, params)
                return json_reply(status, answer)
            args = declared.arguments(params)
            if declared.blocking:  # off the loop, which keeps serving (a receiver may call the sandbox)
                value = await asyncio.to_thread(declared.fn, self.controls, **args)
            else:
                value = declared.fn(self.controls, **args)
            return json_reply(declared.status, declared.answer(self.controls, value))
        except KeyError as exc:
            return error(404, str(exc.args[0]) if exc.args else "Not found.")
        except StepRefused as exc:
            return error(409, str(exc))
        except (ValueError, TypeError) as exc:
            return error(400, str(exc))

    def match(self, method: str, path: str) -> tuple[Control, dict[str, Any]] | None:
        segments = [unquote(s) for s in path[len(PREFIX):].split("/") if s]
        for declared in self.routes:
            if declared.method != method or len(declared.segments) != len(segments):
                continue
            params = {}
            for want, got in zip(declared.segments, segments, strict=True):
                if want.startswith("{"):
                    params[want[1:-1]] = got
                elif want != got:
                    break
            else:
                return declared, params
        return None


def _body(raw: bytes) -> dict[str, Any]:
    if not raw:
        return {}
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("the body must be a JSON object")
    return value
