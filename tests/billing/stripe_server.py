"""A local stand-in for Stripe's API: it records every request the official SDK makes (method, path, form body,
headers) and answers with the objects the adapter reads. Real HTTP on a real socket; nothing of ours is mocked."""

from __future__ import annotations

import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl


class StripeServer:
    """Started in a thread; `requests` is what arrived, in order."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.subscriptions: dict[str, dict] = {}  # what GET /v1/subscriptions/<id> answers, when set
        counter = itertools.count(1)
        recorded, known = self.requests, self.subscriptions

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _answer(self, body: dict, status: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _record(self) -> dict:
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
                entry = {"method": self.command, "path": self.path, "form": form, "headers": dict(self.headers)}
                recorded.append(entry)
                return entry

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._record()
                if self.path.startswith("/v1/subscriptions/"):
                    sub_id = self.path.rsplit("/", 1)[-1]
                    if sub_id in known:
                        return self._answer(known[sub_id])
                    base = {"id": "si_base", "object": "subscription_item", "quantity": 1}
                    seats = {"id": "si_seats", "object": "subscription_item", "quantity": 2}
                    items = {"object": "list", "data": [base, seats]}
                    return self._answer({"id": sub_id, "object": "subscription", "items": items})
                self._answer({"error": {"message": "no such route"}}, 404)

            def do_POST(self) -> None:  # noqa: N802
                self._record()
                if self.path == "/v1/checkout/sessions":
                    n = next(counter)
                    return self._answer({"id": f"cs_test_{n}", "object": "checkout.session",
                                         "url": f"https://checkout.stripe.test/c/pay/cs_test_{n}"})  # fmt: skip
                if self.path.startswith("/v1/subscriptions/"):
                    return self._answer({"id": self.path.rsplit("/", 1)[-1], "object": "subscription"})
                if self.path == "/v1/billing_portal/sessions":
                    return self._answer({"id": "bps_1", "object": "billing_portal.session",
                                         "url": "https://billing.stripe.test/p/session_1"})  # fmt: skip
                self._answer({"error": {"message": "no such route"}}, 404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "StripeServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
