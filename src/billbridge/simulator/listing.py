"""List pages: ``max``, opaque ``page`` tokens carrying the query, ``nextPage``/``prevPage``."""

from __future__ import annotations

import base64
import binascii

import orjson

from billbridge.simulator.errors import SimError
from billbridge.simulator.store import FamilyStore

DEFAULT_MAX = 20


def encode_token(family: str, filters: str, sort: str, offset: int) -> str:
    """An opaque page token: the query and the offset, so later pages need only ``page``."""
    raw = orjson.dumps([family, filters, sort, offset])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, family: str) -> tuple[str, str, int]:
    """``(filters, sort, offset)`` from a token of ``family``, or BDC_1129."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        name, filters, sort, offset = orjson.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise SimError("BDC_1129", "Invalid page token") from None
    if (
        name != family
        or not isinstance(filters, str)
        or not isinstance(sort, str)
        or not isinstance(offset, int)
    ):
        raise SimError("BDC_1129", "Invalid page token")
    if offset < 0:
        raise SimError("BDC_1129", "Invalid page token")
    return filters, sort, offset


def parse_max(raw: str | None, *, limit: int) -> int:
    """The ``max`` parameter: default 20, between 1 and ``limit``."""
    if raw is None or raw == "":
        return min(DEFAULT_MAX, limit)
    try:
        value = int(raw)
    except ValueError:
        raise SimError("BDC_1129", f"Invalid value for max: {raw}") from None
    if not 1 <= value <= limit:
        raise SimError("BDC_1129", f"max must be between 1 and {limit}")
    return value


def list_page(
    store: FamilyStore,
    *,
    filters: str | None,
    sort: str | None,
    max_raw: str | None,
    page: str | None,
) -> bytes:
    """One page of ``store`` as BILL's ``{"results": [...], "nextPage", "prevPage"}`` bytes.

    A page token wins over ``filters``/``sort`` given next to it (the token carries the query).
    """
    size = parse_max(max_raw, limit=store.spec.max_page)
    family = store.spec.path
    if page:
        filters_text, sort_text, offset = decode_token(page, family)
    else:
        filters_text, sort_text, offset = filters or "", sort or "", 0
    chunk, total = store.query_page(filters_text, sort_text, offset, size)
    encoded = store.encoded
    parts = [b'{"results":[', b",".join([encoded[i] for i in chunk]), b"]"]
    if offset + size < total:
        parts.append(
            b',"nextPage":"' + encode_token(family, filters_text, sort_text, offset + size).encode() + b'"'
        )
    if offset > 0:
        prev = max(0, offset - size)
        parts.append(b',"prevPage":"' + encode_token(family, filters_text, sort_text, prev).encode() + b'"')
    parts.append(b"}")
    return b"".join(parts)
