"""Which headers cross the proxy, in each direction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# RFC 9110 §7.6.1 connection-specific headers, plus what the transport sets itself.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
# Auth is injected from the connection; a caller's copy is dropped (see Proxy). Cookies are
# dropped too: BILL's API uses none and one upstream pool serves every organization.
_DROPPED_REQUEST = _HOP_BY_HOP | frozenset(
    {"authorization", "devkey", "sessionid", "apitoken", "cookie", "accept-encoding"}
)
# The transport hands over the decoded body, so BILL's encoding and length no longer apply. Date
# and Server belong to whoever answers the caller (our HTTP server adds its own Date).
_DROPPED_RESPONSE = _HOP_BY_HOP | frozenset({"content-encoding", "set-cookie", "date", "server"})


def outgoing_headers(headers: Mapping[str, str] | None) -> dict[str, str] | None:
    """The caller's headers that may go to BILL (names kept as sent)."""
    if not headers:
        return None
    return {name: value for name, value in headers.items() if name.lower() not in _DROPPED_REQUEST}


_DROPPED_RESPONSE_RAW = frozenset(name.encode("latin-1") for name in _DROPPED_RESPONSE)


def returned_headers(headers: Sequence[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """BILL's response headers that may go back to the caller (as the bytes that came)."""
    return [(name, value) for name, value in headers if name.lower() not in _DROPPED_RESPONSE_RAW]
