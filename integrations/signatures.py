"""HMAC-SHA256 webhook signatures, as GitHub, Sentry and our generic hooks send them: the hex digest of the raw
body (GitHub and the generic hooks prefix it with `sha256=`). Compared in constant time."""

import hashlib
import hmac


def hex_digest(secret: bytes, body: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def matches(secret: bytes, body: bytes, header: str | None, *, prefix: str = "") -> bool:
    """True when the header is prefix + the hex HMAC-SHA256 of the raw body; False when missing or wrong."""
    if header is None or not header.startswith(prefix):
        return False
    return hmac.compare_digest((prefix + hex_digest(secret, body)).encode(), header.encode())
