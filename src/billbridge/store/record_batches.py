"""Pages of one stream that queue while one of its writes is in flight go to PostgreSQL together.

Every page of a stream locks the stream's row to commit, so the pages of a large first run (a dozen
windows paging side by side) queue for that lock one by one, and each also costs its own read,
statement and round trips in the syncing process, whose event loop is what limits how fast a
sync stores. So the first page of a stream is written at once, and pages that arrive while it is
written wait and go together in the next statement (``record_write.write_pages``): one read, one
statement, one turn of the lock for all of them.

A batch shares its run and never holds one id twice (one statement cannot write a row twice): a
page that would break either waits for the batch after. Pages with a checkpoint never come here
(they are written alone, with the sync's state locked). If a batch fails, its pages are written
again one by one, so each caller hears of its own page: one bad page never fails the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import structlog

from billbridge.store.record_diff import PageCounts
from billbridge.store.record_write import PageWrite

log = structlog.get_logger(__name__)

# Pages one statement writes at most (its read asks for up to 100 ids per page).
BATCH_MAX: Final = 16

Write = Callable[[list[PageWrite]], Awaitable[list[PageCounts]]]


@dataclass(eq=False, slots=True)
class _Waiting:
    page: PageWrite
    future: asyncio.Future[PageCounts]


class PageBatches:
    """Writes pages with ``write`` (a list of pages of one stream in, their counts out), batching
    the pages of a stream that queue meanwhile (see the module)."""

    def __init__(self, write: Write) -> None:
        self._write = write
        # Per stream with a write in flight: the pages waiting for the next one.
        self._queues: dict[tuple[int, str], list[_Waiting]] = {}
        self._drains: set[asyncio.Task[None]] = set()
        #: Statements that wrote more than one page (for tests and curiosity).
        self.batched = 0

    async def write(self, page: PageWrite) -> PageCounts:
        """Write ``page`` (no checkpoint) and return what it changed, once it is committed."""
        key = (page.connection_pk, page.model)
        queue = self._queues.get(key)
        if queue is not None:
            waiting = _Waiting(page, asyncio.get_running_loop().create_future())
            queue.append(waiting)
            return await waiting.future
        self._queues[key] = []
        try:
            (counts,) = await self._write([page])
            return counts
        finally:
            self._next(key)

    def _next(self, key: tuple[int, str]) -> None:
        """After a write of the stream: drain what queued meanwhile, or stop tracking the stream."""
        if self._queues.get(key):
            task = asyncio.ensure_future(self._drain(key))
            self._drains.add(task)
            task.add_done_callback(self._drains.discard)
        else:
            self._queues.pop(key, None)

    async def _drain(self, key: tuple[int, str]) -> None:
        while queue := self._queues.get(key):
            batch = _take_batch(queue)
            self._queues[key] = queue[len(batch) :]
            for waiting, outcome in zip(batch, await self._outcomes(batch), strict=True):
                if waiting.future.done():
                    continue  # its caller went away (the page is written all the same)
                if isinstance(outcome, PageCounts):
                    waiting.future.set_result(outcome)
                else:
                    waiting.future.set_exception(outcome)
        self._queues.pop(key, None)

    async def _outcomes(self, batch: list[_Waiting]) -> list[PageCounts | Exception]:
        if len(batch) > 1:
            try:
                together = await self._write([waiting.page for waiting in batch])
            except Exception as exc:
                # Each page is tried alone below and reports its own outcome.
                log.info("record_batch_failed", pages=len(batch), error=type(exc).__name__)
            else:
                self.batched += 1
                return list(together)
        outcomes: list[PageCounts | Exception] = []
        for waiting in batch:
            try:
                (alone,) = await self._write([waiting.page])
            except Exception as exc:
                outcomes.append(exc)
            else:
                outcomes.append(alone)
        return outcomes


def _take_batch(queue: list[_Waiting]) -> list[_Waiting]:
    """The first pages of ``queue`` that may share a statement (same run, no id twice)."""
    batch = [queue[0]]
    ids = set(queue[0].page.incoming)
    for waiting in queue[1:BATCH_MAX]:
        page = waiting.page
        if page.run_id != batch[0].page.run_id or not ids.isdisjoint(page.incoming):
            break
        ids.update(page.incoming)
        batch.append(waiting)
    return batch
