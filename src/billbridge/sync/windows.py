"""Split a large first run into disjoint ``updatedTime`` windows that are paged side by side.

BILL pages one list sequentially, one round trip per page, while it allows three requests in
flight per organization: one walk alone leaves two slots idle. After the first page, the newest
``updatedTime`` of the list is read (one record, sorted descending); the range up to it is cut into
``count - 1`` windows ``[b_i, b_i+1)`` of equal width, and the last window starts at the newest
timestamp itself and is open-ended, so records changed during the run land in it (or in the next
run).

The newest timestamp gets a window of its own because records often pile up there (a bulk import,
a mass update): records sharing one timestamp can only be paged one after the other through
BILL's offsets, and inside a wide window that block would be paged last, alone, after every other
window had finished. Many windows more than slots (they queue for the slots in turn) keep all three
busy while one window stores its page, and make the windows small, so the last ones to finish
leave slots idle for only a few pages.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from billbridge.bill.query import Sort, list_params
from billbridge.sync.cursor import Cursor, as_text, parse_time

MIN_WIDTH = timedelta(milliseconds=1)


def newest_query() -> list[tuple[str, str]]:
    """The query of the one record with the latest ``updatedTime``."""
    return list_params(max=1, sort=Sort("updatedTime", desc=True))


def split(after_first: Cursor, newest: str | None, *, count: int) -> list[Cursor]:
    """Cursors of ``count`` disjoint windows covering everything from ``after_first`` on.

    The first window continues ``after_first`` (its boundary duplicates included); the last
    starts at ``newest`` and has no upper bound. Fewer windows come back when the range is too
    narrow to cut.
    """
    low = parse_time(after_first.since)
    high = parse_time(newest)
    if count <= 1 or low is None or high is None or high - low < MIN_WIDTH * count:
        return [after_first]
    width = (high - low) / (count - 1)
    bounds = [as_text(low + width * i) for i in range(1, count - 1)] + [as_text(high)]
    # Millisecond rounding can merge neighbours; the windows must stay strictly ordered.
    bounds = [b for i, b in enumerate(bounds) if (i == 0 or b != bounds[i - 1]) and b != after_first.since]
    cursors = [replace(after_first, until=bounds[0] if bounds else None)]
    for i, bound in enumerate(bounds):
        until = bounds[i + 1] if i + 1 < len(bounds) else None
        cursors.append(Cursor(since=bound, until=until, pages=0))
    return cursors
