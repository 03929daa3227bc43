"""How a page of incoming records compares with what is stored: what to write, and the counts.

Pure functions (no database): canonical payloads (keys sorted, ``id`` = the external id), their
hashes, and the ADDED / UPDATED / DELETED decision for each record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NamedTuple

import orjson

from billbridge.errors import ValidationError


def is_archived(record: Mapping[str, Any]) -> bool:
    """BILL's marker of an archived object (``"archived": true``)."""
    return record.get("archived") is True


@dataclass(frozen=True, slots=True)
class PageCounts:
    """What one written page changed; ``unchanged`` counts records left as they were."""

    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0

    def __add__(self, other: PageCounts) -> PageCounts:
        return PageCounts(
            self.added + other.added,
            self.updated + other.updated,
            self.deleted + other.deleted,
            self.unchanged + other.unchanged,
        )


class Incoming(NamedTuple):
    """A record as it will be stored; instants in microseconds (``sqltypes.to_micros``).

    A named tuple: one is made per record synced, and a frozen dataclass costs several times more
    to build.
    """

    payload: str
    data_hash: str
    source_modified_us: int | None
    archived: bool


@dataclass(frozen=True, slots=True)
class Stored:
    """What the diff needs of a stored record."""

    data_hash: str
    source_modified_us: int | None
    deleted_us: int | None


def prepare(
    records: Iterable[Mapping[str, Any]],
    id_field: str,
    modified_field: str | None,
    archived: Callable[[Mapping[str, Any]], bool],
) -> dict[str, Incoming]:
    """Canonical payloads by external id; of two copies of one id, the later change wins."""
    prepared: dict[str, Incoming] = {}
    for record in records:
        raw_id = record.get(id_field)
        if raw_id is None or raw_id == "":
            raise ValidationError(f"a record has no {id_field!r} field", field=id_field)
        # PostgreSQL text cannot hold NUL; Nango strips it from external ids too.
        external_id = str(raw_id).replace("\x00", "")
        body = record
        if raw_id is not record.get("id") or external_id != raw_id or "_nango_metadata" in record:
            # The stored payload carries id = the external id (as the API shows it) and no metadata.
            body = {key: value for key, value in record.items() if key != "_nango_metadata"}
            body["id"] = external_id
        try:
            payload = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        except TypeError as exc:
            raise ValidationError(f"record {external_id!r} is not JSON: {exc}", field="records") from None
        item = Incoming(
            payload.decode(),
            hashlib.blake2b(payload, digest_size=16).hexdigest(),
            _source_micros(record.get(modified_field)) if modified_field else None,
            archived(record),
        )
        previous = prepared.get(external_id)
        if previous is None or not _older(item.source_modified_us, previous.source_modified_us):
            prepared[external_id] = item
    return prepared


# Marks a deletion time to be set to the write's instant, known once the stream is locked.
AT_WRITE: Final = -1


def diff(
    incoming: Mapping[str, Incoming], stored: Mapping[str, Stored], run_id: str | None
) -> tuple[list[dict[str, Any]], list[str], PageCounts]:
    """The rows to write, the ids left unchanged, and the counts.

    Rows lack ``stream_id``, ``seq`` and the instants: :func:`stamp` sets them once the stream is
    locked (``deleted_us`` is :data:`AT_WRITE` where the deletion happens now).
    """
    rows: list[dict[str, Any]] = []
    unchanged: list[str] = []
    added = updated = deleted = 0
    for external_id, item in incoming.items():
        old = stored.get(external_id)
        if old is not None and (
            _older(item.source_modified_us, old.source_modified_us)
            or (item.data_hash == old.data_hash and item.archived == (old.deleted_us is not None))
        ):
            unchanged.append(external_id)
            continue
        if item.archived:
            action = "DELETED"
            deleted_us = old.deleted_us if old is not None and old.deleted_us is not None else AT_WRITE
            deleted += old is None or old.deleted_us is None
        elif old is None:
            action, deleted_us = "ADDED", None
            added += 1
        else:
            action, deleted_us = "UPDATED", None
            updated += 1
        rows.append(
            {
                "external_id": external_id,
                "payload": item.payload,
                "data_hash": item.data_hash,
                "source_modified_us": item.source_modified_us,
                "last_action": action,
                "deleted_us": deleted_us,
                "seen_run": run_id,
            }
        )
    return rows, unchanged, PageCounts(added, updated, deleted, len(unchanged))


def stamp(rows: list[dict[str, Any]], stream_id: int, first_seq: int, instant: int) -> None:
    """Give the rows their stream, consecutive seq numbers from ``first_seq``, and the instant."""
    for offset, row in enumerate(rows):
        row["stream_id"] = stream_id
        row["seq"] = first_seq + offset
        row["first_seen_us"] = row["last_modified_us"] = instant
        if row["deleted_us"] == AT_WRITE:
            row["deleted_us"] = instant


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH: Final = datetime(1970, 1, 1)  # a time without an offset is UTC
_MICROSECOND: Final = timedelta(microseconds=1)


def _source_micros(value: Any) -> int | None:
    """BILL's ``updatedTime`` in microseconds (as ``sqltypes.to_micros``); None when absent or
    unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (moment - (_NAIVE_EPOCH if moment.tzinfo is None else _EPOCH)) // _MICROSECOND


def _older(candidate: int | None, reference: int | None) -> bool:
    return candidate is not None and reference is not None and candidate < reference
