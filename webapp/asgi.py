"""ASGI entry point for uvicorn: `uvicorn webapp.asgi:app` (the Procfile turns uvicorn's own proxy handling off)."""

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from webapp import create_app


def build(quart_app):
    """The app, behind X-Forwarded-For/-Proto handling only for the proxies TRUSTED_PROXIES names (none by
    default: a client's own X-Forwarded-For must not choose the address that rate limits and audit rows see)."""
    trusted = quart_app.extensions["closedloop"]["settings"].trusted_proxies
    return ProxyHeadersMiddleware(quart_app, trusted_hosts=trusted) if trusted else quart_app


app = build(create_app())
