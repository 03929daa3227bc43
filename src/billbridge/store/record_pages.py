"""Reading synced records a page at a time, as the records API serves them.

Records are ordered by (last_modified_us, seq): ``seq`` is the stream's change counter, and
``last_modified_us`` never decreases with it, so the order is the order of the changes and the
cursor (the last record's pair) is exact: a change committed after a page was read always sorts
after that page's cursor. Pages are built as JSON bytes straight from the stored payload text
(which always holds ``id``), so serving does not parse and re-serialise every record.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

import orjson
from sqlalchemy import Select, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from billbridge.errors import ValidationError
from billbridge.store.models import RecordRow, RecordStreamRow, table_of
from billbridge.store.sqltypes import from_micros, to_micros

RecordAction = Literal["ADDED", "UPDATED", "DELETED"]
ACTIONS: Final[frozenset[str]] = frozenset({"ADDED", "UPDATED", "DELETED"})
DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 10_000
_CURSOR_VERSION: Final = "r1"
_RECORDS = table_of(RecordRow)
_STREAMS = table_of(RecordStreamRow)


@dataclass(frozen=True, slots=True)
class RecordPage:
    """One page: each record as JSON bytes (payload plus ``_nango_metadata``) and the next cursor."""

    items: list[bytes]
    next_cursor: str | None

    def to_json(self) -> bytes:
        """The records API's answer: ``{"records": [...], "next_cursor": ...}``."""
        tail = b'],"next_cursor":' + orjson.dumps(self.next_cursor) + b"}"
        return b'{"records":[' + b",".join(self.items) + tail

    def records(self) -> list[dict[str, Any]]:
        """The records as dictionaries (for the CLI and tests; the API sends ``to_json()``)."""
        return [orjson.loads(item) for item in self.items]


def encode_cursor(last_modified_us: int, seq: int) -> str:
    """The opaque cursor of a record: its last change instant (microseconds) and change number."""
    return (
        base64.urlsafe_b64encode(f"{_CURSOR_VERSION}:{last_modified_us}:{seq}".encode()).decode().rstrip("=")
    )


def decode_cursor(cursor: str) -> tuple[int, int]:
    """The (last_modified_us, seq) pair of a cursor this module made.

    Raises:
        ValidationError: the cursor was not made here (field ``cursor``).
    """
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        version, micros, seq = text.split(":")
        if version != _CURSOR_VERSION:
            raise ValueError(version)
        return int(micros), int(seq)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValidationError(
            "cursor is not a cursor this server gave out: pass next_cursor (or a record's "
            "_nango_metadata.cursor) unchanged, or omit it to start from the beginning",
            field="cursor",
        ) from None


async def read_page(
    conn: AsyncConnection,
    connection_pk: int,
    model: str,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
    modified_after: datetime | None = None,
    actions: Collection[str] | None = None,
    ids: Sequence[str] | None = None,
) -> RecordPage:
    """One page of a connection's records of ``model``, oldest change first.

    ``actions`` keeps records whose last action is one of them (all when None or all three);
    ``ids`` keeps those external ids. Raises ValidationError for a bad cursor, limit or action.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    position = decode_cursor(cursor) if cursor is not None else None
    wanted = _actions(actions)
    stream_id = await conn.scalar(
        select(_STREAMS.c.id).where(_STREAMS.c.connection_pk == connection_pk, _STREAMS.c.model == model)
    )
    if stream_id is None:
        return RecordPage([], None)
    after = to_micros(modified_after) if modified_after is not None else None
    rows = (await conn.execute(_query(stream_id, position, after, wanted, ids).limit(limit + 1))).all()
    more = len(rows) > limit
    if more:
        rows = rows[:limit]
    # Records written in one page share their instants: format each instant once.
    iso: dict[int, str] = {}
    items = [
        _item(payload, first, last, action, deleted, seq, iso)
        for payload, first, last, action, deleted, seq in rows
    ]
    next_cursor = encode_cursor(rows[-1][2], rows[-1][5]) if more else None
    return RecordPage(items, next_cursor)


def _query(
    stream_id: int,
    position: tuple[int, int] | None,
    modified_after_us: int | None,
    actions: frozenset[str] | None,
    ids: Sequence[str] | None,
) -> Select[tuple[str, int, int, str, int | None, int]]:
    c = _RECORDS.c
    query = (
        select(c.payload, c.first_seen_us, c.last_modified_us, c.last_action, c.deleted_us, c.seq)
        .where(c.stream_id == stream_id)
        .order_by(c.last_modified_us, c.seq)
    )
    if position is not None:
        query = query.where(
            tuple_(c.last_modified_us, c.seq) > tuple_(literal(position[0]), literal(position[1]))
        )
    if modified_after_us is not None:
        query = query.where(c.last_modified_us >= modified_after_us)
    if actions is not None:
        query = query.where(c.last_action.in_(sorted(actions)))
    if ids is not None:
        # PostgreSQL text cannot hold NUL, and no stored id contains one (the writer strips them).
        query = query.where(c.external_id.in_([value.replace("\x00", "") for value in ids]))
    return query


def _item(
    payload: str,
    first_seen: int,
    last_modified: int,
    action: str,
    deleted: int | None,
    seq: int,
    iso: dict[int, str],
) -> bytes:
    metadata = orjson.dumps(
        {
            "first_seen_at": _iso(first_seen, iso),
            "last_modified_at": _iso(last_modified, iso),
            "last_action": action,
            "deleted_at": _iso(deleted, iso) if deleted is not None else None,
            "pruned_at": None,
            "cursor": encode_cursor(last_modified, seq),
        }
    )
    # The stored payload is a JSON object that always has "id", so the metadata goes before "}".
    return payload[:-1].encode() + b',"_nango_metadata":' + metadata + b"}"


def _iso(micros: int, cache: dict[int, str]) -> str:
    text = cache.get(micros)
    if text is None:
        text = cache[micros] = from_micros(micros).isoformat()
    return text


def _actions(actions: Collection[str] | None) -> frozenset[str] | None:
    if actions is None:
        return None
    wanted = frozenset(action.upper() for action in actions)
    unknown = wanted - ACTIONS
    if unknown or not wanted:
        raise ValidationError("filter must list added, updated and/or deleted", field="filter")
    return None if wanted == ACTIONS else wanted
