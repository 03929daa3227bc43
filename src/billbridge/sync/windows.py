"""Split a large first run into disjoint ``updatedTime`` windows that are paged side by side, and
split a window again while BILL's slots would otherwise sit idle.

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
busy while one window stores its page.

Windows of equal width rarely hold equal numbers of records, so the densest one is still paging,
alone, when the others are done. Dynamic splitting takes that tail away: while fewer walks of the
organization are going than BILL lets it have in flight (:class:`WalkCounter`), a window that
still has a bounded range left keeps the first half of it and hands the second half to a new
window (:func:`halve`), again and again while the condition holds, so the last pages of a run are
paged side by side too. Never split: the open-ended last window, a window inside a block of
records sharing one timestamp (its position is a BILL offset), a range that would leave a window
narrower than :data:`MIN_WIDTH`, or one with less than about :data:`SPLIT_PAGES_LEFT` pages left.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from billbridge.bill.query import Sort, list_params
from billbridge.sync.cursor import Cursor, as_text, parse_time

MIN_WIDTH = timedelta(milliseconds=1)
# A window splits only when its range left is at least this many times as wide as its last page:
# a walk of its own for less than that costs more (a workflow, its steps) than it saves.
SPLIT_PAGES_LEFT = 2
# A walk between two of its steps (DBOS records one step's output, the workflow calls the next)
# still counts as going for this many seconds after its last step ended.
BETWEEN_STEPS = 2.0


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


def halve(at: Cursor, *, last_page: timedelta | None = None) -> tuple[Cursor, Cursor] | None:
    """Split the range a window has left: (the cursor it goes on with, the cursor of a new window),
    or None when it must not split.

    ``at`` is the window's cursor before its next page: every record it stored is at or before
    ``at.since``, so the new window ``[mid, until)`` starts with nothing stored, and the kept half
    ``[since, mid)`` keeps ``at``'s boundary ids. ``last_page`` is the width of the range the
    window's last page covered: with less than :data:`SPLIT_PAGES_LEFT` such widths left, the
    window does not split.
    """
    if at.token is not None or at.until is None:
        return None
    low, high = parse_time(at.since), parse_time(at.until)
    if low is None or high is None or high - low < 2 * MIN_WIDTH:
        return None
    if last_page is not None and high - low < last_page * SPLIT_PAGES_LEFT:
        return None
    mid = as_text(low + (high - low) / 2)  # to BILL's milliseconds, downwards
    middle = parse_time(mid)
    assert middle is not None
    if middle - low < MIN_WIDTH or high - middle < MIN_WIDTH:
        return None
    return replace(at, until=mid), Cursor(since=mid, until=at.until)


class WalkCounter:
    """The walks of each organization going in this process, for the splitting rule.

    Counted per organization, not per run: BILL's three slots are the organization's, and every
    sync of it (each family's run, each window of a first run) queues for them, so a window should
    split only when the organization as a whole has fewer walks than slots, whichever runs they
    belong to. A walk counts while one of its steps runs (waiting for a slot included) and for
    :data:`BETWEEN_STEPS` seconds after, so nothing has to end it when its workflow is paused,
    cancelled or dies between steps; a finished walk leaves at once. Walks in other processes (a
    family run by another worker) are not seen: there the rule errs towards splitting, which costs
    a few more window workflows, never a record.
    """

    def __init__(self, *, between_steps: float = BETWEEN_STEPS, clock: Callable[[], float] = time.monotonic):
        self._between = between_steps
        self._clock = clock
        # organization -> walk id -> when its last step ended (infinity: a step is running)
        self._walks: dict[str, dict[str, float]] = {}

    def enter(self, organization: str, walk_id: str) -> None:
        """A step of ``walk_id`` starts."""
        self._walks.setdefault(organization, {})[walk_id] = math.inf

    def leave(self, organization: str, walk_id: str, *, finished: bool = False) -> None:
        """A step of ``walk_id`` ended (``finished``: so did the walk)."""
        walks = self._walks.get(organization)
        if walks is None:
            return
        if finished:
            walks.pop(walk_id, None)
            if not walks:
                del self._walks[organization]
        else:
            walks[walk_id] = self._clock()

    def expect(self, organization: str, walk_id: str) -> None:
        """A walk about to start (a window just split off): counted before its first step."""
        walks = self._walks.setdefault(organization, {})
        if walks.get(walk_id) != math.inf:
            walks[walk_id] = self._clock()

    def going(self, organization: str) -> int:
        """How many walks of ``organization`` are going now."""
        walks = self._walks.get(organization)
        if not walks:
            return 0
        since = self._clock() - self._between
        for walk_id in [w for w, left in walks.items() if left < since]:
            del walks[walk_id]
        return len(walks)
