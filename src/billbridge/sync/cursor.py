"""Paging a BILL list by ``updatedTime`` so that nothing is skipped or stored twice.

BILL's page tokens are offsets into a query that is evaluated again for every page, so a record
changed during a walk moves to the end and shifts the rest: following ``nextPage`` alone can skip a
record. Instead every page asks again for ``updatedTime:gte:<last timestamp stored>`` sorted
ascending (keyset paging), and the records at that boundary timestamp that were already stored are
dropped by id. Only when a whole page shares one timestamp (keyset paging cannot move past it) is
BILL's ``nextPage`` followed until the timestamp changes.

A :class:`Cursor` is plain data: it is a DBOS step's output, so a resumed run continues from it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from billbridge.bill.pagination import Page
from billbridge.bill.query import Filter, Sort, format_datetime, list_params

FIELD = "updatedTime"


def parse_time(value: Any) -> datetime | None:
    """A record's ``updatedTime`` as an aware datetime (None if absent or unreadable)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def as_text(value: datetime) -> str:
    """A timestamp as BILL's filters take it (UTC, milliseconds, ``Z``)."""
    return format_datetime(value)


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a walk over one ``updatedTime`` range stands.

    Attributes:
        since: the lower bound (inclusive) of the next keyset query; None: from the beginning.
        until: the upper bound (exclusive) of this walk's window; None: open-ended.
        seen: ids already stored whose ``updatedTime`` equals ``since``.
        token: BILL's ``nextPage`` while inside a block of records sharing one timestamp.
        high: the latest ``updatedTime`` stored so far (the next run's checkpoint).
        pages: pages fetched so far.
    """

    since: str | None = None
    until: str | None = None
    seen: tuple[str, ...] = ()
    token: str | None = None
    high: str | None = None
    pages: int = 0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["seen"] = list(self.seen)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cursor:
        return cls(**{**data, "seen": tuple(data.get("seen") or ())})


@dataclass(frozen=True, slots=True)
class Step:
    """What one page gave: the records to store and the cursor after them (None: walk finished)."""

    records: list[dict[str, Any]]
    next: Cursor | None
    high: str | None = None
    dropped: int = field(default=0)


def start(checkpoint: str | None, *, overlap: timedelta, until: str | None = None) -> Cursor:
    """The cursor of a run that resumes after ``checkpoint``, reaching back ``overlap`` for late writes."""
    since = parse_time(checkpoint)
    if since is None:
        return Cursor(until=until, high=checkpoint)
    return Cursor(since=as_text(since - overlap), until=until, high=checkpoint)


def query(cursor: Cursor, *, page_size: int, keyset: bool = True) -> list[tuple[str, str]]:
    """The query parameters of the next page (``keyset=False``: in BILL's order, from ``since`` if set)."""
    if not keyset:
        since = [Filter(FIELD, "gte", cursor.since)] if cursor.since is not None else None
        return list_params(max=page_size, filters=since, page=cursor.token)
    filters = []
    if cursor.since is not None:
        filters.append(Filter(FIELD, "gte", cursor.since))
    if cursor.until is not None:
        filters.append(Filter(FIELD, "lt", cursor.until))
    return list_params(max=page_size, sort=Sort(FIELD), filters=filters or None, page=cursor.token)


def _later(a: str | None, b: datetime | None) -> str | None:
    if b is None:
        return a
    current = parse_time(a)
    return as_text(b) if current is None or b > current else a


def advance(cursor: Cursor, page: Page, *, keyset: bool = True, id_field: str = "id") -> Step:
    """Drop the boundary duplicates of ``page`` and move the cursor past it."""
    if not keyset:
        newest = max(filter(None, (parse_time(r.get(FIELD)) for r in page.results)), default=None)
        high = _later(cursor.high, newest)
        following = replace(cursor, token=page.next_page, high=high, pages=cursor.pages + 1)
        return Step(list(page.results), following if page.next_page else None, high)
    since = parse_time(cursor.since)
    seen = set(cursor.seen)
    fresh: list[dict[str, Any]] = []
    last: datetime | None = None
    for record in page.results:
        stamp = parse_time(record.get(FIELD))
        if stamp is not None:
            last = stamp if last is None or stamp > last else last
        if cursor.token is None and stamp is not None and stamp == since and record.get(id_field) in seen:
            continue
        fresh.append(record)
    dropped = len(page.results) - len(fresh)
    high = _later(cursor.high, last)
    pages = cursor.pages + 1
    if page.next_page is None:
        return Step(fresh, None, high, dropped)
    if last is None or (since is not None and last <= since):
        # The whole page shares the boundary timestamp: only BILL's offset can move past it.
        return Step(fresh, replace(cursor, token=page.next_page, high=high, pages=pages), high, dropped)
    at_last = tuple(
        str(r.get(id_field)) for r in page.results if parse_time(r.get(FIELD)) == last and r.get(id_field)
    )
    following = replace(cursor, since=as_text(last), seen=at_last, token=None, high=high, pages=pages)
    return Step(fresh, following, high, dropped)


def settle(high: str | None, walk_seconds: float, *, floor: str | None = None) -> str | None:
    """The checkpoint of a walk that followed BILL's page offsets through ``updatedTime:gte:``.

    A record that changes during such a walk joins the filtered list and shifts it: if it joins
    before the page being read it is missed, while records seen later may be newer still. It
    changed after the walk began, so reaching back by the walk's length from the newest time seen
    (newest seen <= walk end, so newest - length <= walk start <= the change) takes it in next run.
    The walk's own starting checkpoint ``floor`` is safe too (it is older than the walk's start),
    so a run that saw nothing new does not move the checkpoint back.
    """
    newest = parse_time(high)
    if newest is None:
        return high
    return _later(floor, newest - timedelta(seconds=max(walk_seconds, 0.0)))
