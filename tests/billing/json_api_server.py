"""A local stand-in for a JSON payment API (Polar's, Dodo's): it records every request the official SDK makes
(method, path, JSON body, headers) and answers through the routes a test gives it. Real HTTP on a real socket;
nothing of ours is mocked. `schema_sample` builds an answer that satisfies an SDK's own response types, so a strict
SDK (Polar's validates every field) accepts it, with the fields the adapter reads set by the test."""

from __future__ import annotations

import collections.abc
import dataclasses
import json
import threading
import types
import typing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Route = typing.Callable[[dict], tuple[int, dict]]


def schema_sample(model, **fields) -> dict:
    """The smallest JSON object an SDK's dataclass response type accepts, with `fields` laid over it."""
    return {**_sample(model), **fields}


def _sample(tp):
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is type(None) or (origin in (typing.Union, types.UnionType) and type(None) in args):
        return None
    if origin in (typing.Union, types.UnionType):
        return _sample(args[0])
    if origin is typing.Literal:
        return args[0]
    if origin in (list, collections.abc.Sequence):
        return []
    if origin is dict:
        return {}
    if getattr(tp, "__value__", None) is not None:  # a `type X = …` alias
        return _sample(tp.__value__)
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        return {f.name: _sample(hints[f.name]) for f in dataclasses.fields(tp)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}  # fmt: skip
    return {str: "2026-12-03T00:00:00Z", bool: False, int: 0, float: 0.0}.get(tp)


class JsonApiServer:
    """Started in a thread; `requests` is what arrived, in order. `routes` maps (method, path prefix) to a function
    of the recorded request answering (status, body); the longest matching prefix wins."""

    def __init__(self, routes: dict[tuple[str, str], Route]) -> None:
        self.requests: list[dict] = []
        recorded = self.requests

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                entry = {"method": self.command, "path": self.path, "json": json.loads(raw) if raw else None,
                         "headers": {k.lower(): v for k, v in self.headers.items()}}  # fmt: skip
                recorded.append(entry)
                matches = [(len(p), key) for key in routes for p in [key[1]]
                           if key[0] == self.command and self.path.startswith(p)]  # fmt: skip
                status, body = routes[max(matches)[1]](entry) if matches else (404, {"detail": "no such route"})
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = _handle  # noqa: N815 - http.server's naming

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "JsonApiServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
