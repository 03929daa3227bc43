"""Timestamped webhook signatures (``X-Billbridge-Signature: t=<unix>,v1=<hex>``): sign and verify.

``X-Nango-Hmac-Sha256`` signs the body alone, so a captured delivery stays valid forever and can be
replayed to the receiver. This header also signs the moment of sending: ``v1`` is the lowercase hex
HMAC-SHA256, keyed with the webhook signing key, of ``"<t>." + raw body``, where ``t`` is the Unix
time of the attempt. A receiver checks the HMAC and refuses a ``t`` more than :data:`TOLERANCE`
seconds from its own clock; within that window it can also drop repeated deliveries by body.

Receivers may import this module alone (standard library only)::

    from billbridge.signatures import verify_signature, SignatureError

    try:
        verify_signature(raw_body, request.headers["X-Billbridge-Signature"], signing_key)
    except SignatureError:
        return 400
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Billbridge-Signature"
SCHEME = "v1"
# Seconds a signed delivery stays acceptable (Stripe's default): room for clock skew and retries.
TOLERANCE = 300


class SignatureError(ValueError):
    """The signature header is missing, malformed, wrong, or too old or too new."""


def _digest(raw_body: bytes, timestamp: int, key: str) -> str:
    signed = str(timestamp).encode() + b"." + raw_body
    return hmac.new(key.encode(), signed, hashlib.sha256).hexdigest()


def sign(raw_body: bytes, key: str, *, timestamp: int | None = None) -> str:
    """The ``X-Billbridge-Signature`` value for ``raw_body`` sent now (or at ``timestamp``).

    Args:
        raw_body: the exact bytes of the request body.
        key: the webhook signing key.
        timestamp: Unix seconds of the attempt; the current time when omitted.
    """
    stamp = int(time.time()) if timestamp is None else timestamp
    return f"t={stamp},{SCHEME}={_digest(raw_body, stamp, key)}"


def verify_signature(
    raw_body: bytes,
    header: str | None,
    key: str,
    *,
    tolerance: int = TOLERANCE,
    now: float | None = None,
) -> int:
    """Check an ``X-Billbridge-Signature`` header; returns its timestamp.

    Args:
        raw_body: the body exactly as received (before any JSON parsing).
        header: the header's value.
        key: the webhook signing key (``BILLBRIDGE_WEBHOOK_SIGNING_KEY``, else the secret key).
        tolerance: largest accepted distance, in seconds, between ``t`` and ``now``.
        now: the receiver's Unix time (the current time when omitted).

    Raises:
        SignatureError: no header, no ``t`` or ``v1``, no ``v1`` that matches, or ``t`` outside
            the tolerance.
    """
    if not header:
        raise SignatureError(f"The {HEADER} header is missing.")
    stamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isascii() and value.isdigit():
            stamp = int(value)
        elif name == SCHEME:
            candidates.append(value)
    if stamp is None or not candidates:
        raise SignatureError(f"The {HEADER} header must read 't=<unix time>,{SCHEME}=<hex>'.")
    expected = _digest(raw_body, stamp, key)
    # Several v1 values may be present while a signing key is rotated: any one may match.
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureError("The webhook signature does not match the body and key.")
    current = time.time() if now is None else now
    if abs(current - stamp) > tolerance:
        raise SignatureError(
            f"The webhook's timestamp is {int(abs(current - stamp))} s away from this clock, more than "
            f"the {tolerance} s tolerance: refuse it as a possible replay."
        )
    return stamp
