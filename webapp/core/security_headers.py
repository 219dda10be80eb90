"""Security headers on every response: CSP without inline scripts, HSTS, nosniff, framing."""

from __future__ import annotations


def content_security_policy(store_origins: list[str] | tuple[str, ...] = ()) -> str:
    """The pages' CSP; an object store on another origin (S3) is added where browsers reach it directly: uploads
    (connect-src) and image thumbnails (img-src)."""
    extra = "".join(f" {origin}" for origin in store_origins)
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data:{extra}",
            "font-src 'self'",
            f"connect-src 'self'{extra}",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ]
    )


CSP = content_security_policy()


_FIXED = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
_HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


def apply_security_headers(response, *, hsts: bool, csp: str = CSP) -> None:
    """Add the headers OWASP ASVS 3.4 asks for (HSTS only when served over TLS); a header the route set stays."""
    headers = response.headers
    present = {name.lower() for name in headers.keys()}  # one pass, not one scan of the headers per name
    wanted = (("Content-Security-Policy", csp), *_FIXED, *((_HSTS,) if hsts else ()))
    for name, value in wanted:
        if name.lower() not in present:
            headers[name] = value
