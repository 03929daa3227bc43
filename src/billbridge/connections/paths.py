"""Confinement of proxied paths to BILL's ``/v3/`` API under the integration's base URL."""

from __future__ import annotations

import functools
import re
from urllib.parse import unquote

from billbridge.errors import ValidationError

API_PREFIX = "/v3/"
SPEND_PREFIX = "/v3/spend"
MAX_PATH_LENGTH = 2048

# The keeper owns each connection's session: a proxied logout would end it for every caller,
# and a proxied login would spend the developer key's login budget behind the keeper's back.
_RESERVED = frozenset({"/v3/login", "/v3/logout"})
_FORBIDDEN_CHARS = re.compile(r"[\x00-\x20\x7f\\?#]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


@functools.lru_cache(maxsize=4096)
def confine_path(path: str) -> str:
    """Normalise a proxied path and check that it stays under ``/v3/``.

    The path is the part after ``/proxy`` as received (percent-encoding kept). A missing leading
    slash is added and repeated slashes collapse; everything ambiguous is refused rather than
    resolved: dot segments (also percent-encoded, once or several times), encoded slashes,
    backslashes, control characters, ``;`` (raw or encoded), a scheme or host, and a query or
    fragment inside the path.

    Returns:
        The normalised path decoded once, e.g. ``/v3/vendors/00901ABC`` (the BILL client
        percent-encodes it again on the way out, so an escape the caller sent arrives as sent).

    Raises:
        ValidationError: ``invalid_proxy_path`` with the reason.

    Accepted paths are remembered (callers repeat the same few), so the checks run once per path.
    """
    if len(path) > MAX_PATH_LENGTH:
        raise _invalid(f"The path is longer than {MAX_PATH_LENGTH} characters.")
    if "://" in path or path.startswith("//"):
        raise _invalid("Give a path under /v3/, not a URL: the BILL host comes from the integration.")
    if _FORBIDDEN_CHARS.search(path):
        raise _invalid(
            "The path may not contain spaces, control characters, backslashes, '?' or '#'; "
            "pass the query separately."
        )
    if _BAD_ESCAPE.search(path):
        raise _invalid("The path contains a malformed percent-escape.")
    segments = [segment for segment in path.split("/") if segment]
    for segment in segments:
        _check_segment(segment)
    normalised = "/" + "/".join(unquote(segment) for segment in segments)
    if path.endswith("/") and segments:
        normalised += "/"
    if not normalised.startswith(API_PREFIX) or normalised == API_PREFIX:
        raise _invalid("Only BILL's v3 API can be proxied: the path must start with /v3/.")
    if normalised.rstrip("/").lower() in _RESERVED:
        raise _invalid(
            "billbridge manages this connection's BILL session; /v3/login and /v3/logout cannot "
            "be proxied (use force_refresh on GET /connections/{id} for a new session)."
        )
    return normalised


def is_spend_path(path: str) -> bool:
    """Whether a normalised path belongs to the Spend & Expense API (``apiToken`` auth)."""
    return path == SPEND_PREFIX or path.startswith(SPEND_PREFIX + "/")


def _check_segment(segment: str) -> None:
    decoded = segment
    # Decode until stable so that %2e%2e, %252e%252e and friends are all seen as "..".
    for _ in range(4):
        once = unquote(decoded)
        if once == decoded:
            break
        decoded = once
    else:
        raise _invalid("The path is percent-encoded too many times over.")
    if decoded in {".", ".."}:
        raise _invalid("The path may not contain '.' or '..' segments.")
    if "/" in decoded or "\\" in decoded:
        raise _invalid("The path may not contain encoded slashes or backslashes.")
    if _CONTROL.search(decoded):
        raise _invalid("The path may not contain encoded control characters.")
    if ";" in decoded:
        # Servers that read ';' as a parameter separator would see "/v3/login;x=1" as /v3/login,
        # past the reserved-path check; BILL's paths never contain one.
        raise _invalid("The path may not contain ';', raw or percent-encoded.")


def _invalid(message: str) -> ValidationError:
    return ValidationError(message, field="path", code="invalid_proxy_path")
