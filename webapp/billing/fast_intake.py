"""Provider webhooks' short way in: `POST /api/v1/webhooks/<provider>` answered by a small ASGI handler in front of
Quart, so the one route providers hammer skips what it never needs (sessions, CSRF, principal, organization, the
request and app contexts). It does what the pipeline would do for this route, with the same functions: the body
limit (413), the edge's strict JSON screening (400/422), the signature check, store once and enqueue
(`intake.receive`), and on the way out the security headers, `Cache-Control: no-store`, `X-Request-ID`, the request
metric and the request log line. The Quart route stays in the URL map — it is what the OpenAPI document describes
and what answers anything this handler passes on (other methods, a query string, an unknown provider)."""

from __future__ import annotations

import json
import logging
import time
from types import SimpleNamespace

from werkzeug.datastructures import Headers

from webapp.billing import intake
from webapp.billing.enums import Provider
from webapp.billing.tasks import enqueue_event
from webapp.core.edge import decode_json, is_json_type, json_problems, peer_ip
from webapp.core.errors import DomainError, PayloadTooLarge, ValidationError
from webapp.core.logging import request_id_of, request_id_var
from webapp.core.security_headers import apply_security_headers
from webapp.core.tenancy import RequestContext

log = logging.getLogger("webapp")
PREFIX = "/api/v1/webhooks/"
PROVIDERS = {provider.value: provider for provider in (Provider.SANDBOX, Provider.STRIPE, Provider.POLAR,
                                                      Provider.DODO)}  # fmt: skip
ROUTE = "/api/v1/webhooks/<any(sandbox, stripe, polar, dodo):provider>"  # the metric's label, as Quart names it


class WebhookIntake:
    """ASGI middleware: webhook deliveries here, everything else to `inner` (Quart's own ASGI app)."""

    def __init__(self, app, inner) -> None:
        self.app, self.inner = app, inner

    async def __call__(self, scope, receive, send) -> None:
        """Take a webhook delivery, or pass the request on untouched."""
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("query_string"):
            path = scope["path"]
            provider = PROVIDERS.get(path[len(PREFIX) :]) if path.startswith(PREFIX) else None
            if provider is not None:
                return await self._take(scope, receive, send, provider)
        return await self.inner(scope, receive, send)

    async def _take(self, scope, receive, send, provider: Provider) -> None:
        started = time.perf_counter()
        extension = self.app.extensions["closedloop"]
        settings = extension["settings"]
        headers = Headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]])
        rid = request_id_of(headers.get("X-Request-ID", ""))
        request_id_var.set(rid)
        client = scope.get("client")
        ctx = RequestContext(request_id=rid, ip=peer_ip(client[0] if client else None),
                             user_agent=(headers.get("User-Agent") or "")[:400] or None)  # fmt: skip
        try:
            raw = await _body(receive, headers, settings.max_body_bytes)
            parsed = _screened(raw) if raw and is_json_type(_mimetype(headers)) else None
            receipt = await intake.receive(
                extension["engine"], extension["sessionmaker"], ctx, provider, raw, headers,
                settings.webhook_secrets(provider), enqueue_event, parsed,
            )  # fmt: skip
            status, body = 200, {"received": True, "duplicate": receipt.duplicate, "event_id": receipt.event_id,
                                 "type": receipt.type}  # fmt: skip
        except DomainError as exc:
            status, body = exc.status_code, {"error": exc.error, "message": exc.message, "details": exc.details}
        except Exception:
            log.exception("unhandled error", extra={"request_id": rid})
            status = 500
            body = {"error": "InternalError", "message": "Something went wrong on our side. The error was logged.",
                    "details": {}}  # fmt: skip
        await _answer(send, status, body, rid, settings, extension["csp"])
        elapsed = time.perf_counter() - started
        extension["metrics"].observe("POST", ROUTE, status, elapsed)
        log.info("request", extra={"method": "POST", "path": scope["path"], "status": status,
                                   "duration_ms": round(elapsed * 1000, 2), "user_id": None, "org": None})  # fmt: skip


async def _body(receive, headers: Headers, limit: int) -> bytes:
    declared = headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge()
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge()
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _mimetype(headers: Headers) -> str:
    return (headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()


def _screened(raw: bytes) -> object:
    """The edge's rules for a JSON body: strict UTF-8 JSON, bounded depth, nothing PostgreSQL cannot store."""
    data = decode_json(raw)
    problems = json_problems(raw, data)
    if problems:
        raise ValidationError("Some fields contain characters that cannot be stored.", {"fields": problems})
    return data


async def _answer(send, status: int, body: dict, rid: str, settings, csp: str) -> None:
    data = json.dumps(body).encode()
    response = SimpleNamespace(headers={})
    apply_security_headers(response, hsts=settings.cookie_secure, csp=csp)
    response.headers |= {"Content-Type": "application/json", "Content-Length": str(len(data)),
                         "Cache-Control": "no-store", "X-Request-ID": rid}  # fmt: skip
    raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": data})
