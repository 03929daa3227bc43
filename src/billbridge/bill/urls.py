"""Building a request for BILL: URLs, query strings, and which auth fits which path (pure functions)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import quote, urlencode

from billbridge.bill.auth import ApiTokenAuth, Auth, AuthFlow
from billbridge.bill.environments import Environment
from billbridge.bill.objects import ObjectFamily, family
from billbridge.errors import ValidationError

Api = Literal["connect", "events"]
Params = Mapping[str, Any] | Sequence[tuple[str, str]]

# Characters left bare in paths and query values: all legal there, and BILL's filter syntax uses them.
_PATH_SAFE = "/:@-._~!$&'()*+,;="
_QUERY_SAFE = ":,"


# Names and values made only of these need no percent-encoding (``quote`` would leave them as they
# are): the usual query (``max=20``, ``page=...``) skips urlencode's work.
_QUERY_PLAIN = re.compile(r"[A-Za-z0-9_.\-~:,]*")


def encode_query(params: Iterable[tuple[str, str]]) -> str:
    """Percent-encode query pairs (order kept)."""
    pairs = list(params)
    plain = _QUERY_PLAIN.fullmatch
    if all(plain(name) and plain(value) for name, value in pairs):
        return "&".join(f"{name}={value}" for name, value in pairs)
    return urlencode(pairs, quote_via=quote, safe=_QUERY_SAFE)


@lru_cache(maxsize=4096)
def _quoted_path(path: str) -> str:
    # Cached: a proxy sends the same few paths over and over.
    return quote(path, safe=_PATH_SAFE)


def api_url(environment: Environment, path: str, query: str = "", *, api: Api = "connect") -> str:
    """The absolute URL of an API path such as ``/v3/vendors``.

    Raises:
        ValidationError: if the path does not start with ``/v3/`` or climbs with ``..``.
    """
    if not path.startswith("/v3/") or "/../" in path or path.endswith("/.."):
        raise ValidationError(f"BILL API paths start with /v3/, not {path[:40]!r}", field="path")
    base = environment.events_base if api == "events" else environment.api_base
    url = base + _quoted_path(path)
    return f"{url}?{query}" if query else url


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def param_pairs(params: Params) -> list[tuple[str, str]]:
    """Query parameters as text pairs (None values left out of a mapping)."""
    if isinstance(params, Mapping):
        return [(str(k), _param_text(v)) for k, v in params.items() if v is not None]
    return [(str(k), _param_text(v)) for k, v in params]


def check_auth(path: str, auth: Auth | AuthFlow, api: Api) -> None:
    """Refuse an auth that cannot work for the path (a flow is trusted to yield the right kind)."""
    if api != "connect" or not isinstance(auth, Auth):
        return  # Connect Events take either kind of auth.
    is_spend = path.startswith("/v3/spend/") or path == "/v3/spend"
    if is_spend and not isinstance(auth, ApiTokenAuth):
        raise ValidationError(
            "Spend & Expense paths (/v3/spend/...) are called with an ApiTokenAuth", field="auth"
        )
    if not is_spend and isinstance(auth, ApiTokenAuth):
        raise ValidationError(
            "an ApiTokenAuth only works for Spend & Expense paths (/v3/spend/...)", field="auth"
        )


def list_path(path_or_family: str | ObjectFamily) -> str:
    """The list path of a family (by name or object) or an explicit ``/v3/...`` path."""
    if isinstance(path_or_family, ObjectFamily):
        return path_or_family.path
    if path_or_family.startswith("/"):
        return path_or_family
    return family(path_or_family).path
