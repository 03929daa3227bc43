"""Where each walk of a sync run stands: the position after its last stored page.

A run pages through a BILL list in walks (the run itself, or one window of a large first read),
several pages per durable step. Every stored page saves its walk's position in the page's own
transaction, so a step that runs again (a retry, or a run resumed after its process died) goes on
after the last stored page instead of from the step's start: no stored page is fetched again, and
the step's result still counts every page it stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Final

import orjson
from sqlalchemy import delete, select

from billbridge.store.models import SyncWalkRow, table_of

WALKS = table_of(SyncWalkRow)

_COLUMNS: Final = "walk_id, run_id, connection_pk, position, updated_us"
_ON_CONFLICT: Final = (
    "ON CONFLICT (walk_id) DO UPDATE SET run_id = excluded.run_id, position = excluded.position, "
    "updated_us = excluded.updated_us"
)
# The SQLite driver takes the parameters by position (in :meth:`WalkPosition.save_params` order),
# psycopg by name.
SAVE_SQLITE: Final = f"INSERT INTO sync_walks ({_COLUMNS}) VALUES (?, ?, ?, ?, ?) {_ON_CONFLICT}"  # noqa: S608
# PostgreSQL saves the positions of every page written by one statement (one row each), from arrays.
SAVE_POSTGRES: Final = (
    f"INSERT INTO sync_walks ({_COLUMNS}) SELECT * FROM unnest("  # noqa: S608 (constant identifiers only)
    "%(walk_ids)s::text[], %(walk_runs)s::text[], %(walk_connections)s::int8[], %(walk_positions)s::text[], "
    "%(walk_updated)s::int8[]) " + _ON_CONFLICT
)


@dataclass(frozen=True, slots=True)
class WalkPosition:
    """A walk after its last stored page, and what the step storing it has done so far.

    A page write is handed the position after the page without the page's own changes, and
    saves it with them (:meth:`after`): they are known only inside the page's transaction.

    Attributes:
        walk_id: the walk (the DBOS workflow that pages it).
        run_id: the sync run it belongs to (its positions go when the run ends).
        step: the durable step that stored the pages counted here.
        next: the cursor of the walk's next page (None: the walk is finished).
        high: the latest ``updatedTime`` stored by the step.
        counts: added, updated, deleted by the step's pages.
        records: records stored by the step.
        pages: pages stored by the step.
    """

    walk_id: str
    run_id: str
    step: int
    next: dict[str, Any] | None
    high: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    records: int = 0
    pages: int = 0

    def after(self, added: int, updated: int, deleted: int) -> WalkPosition:
        """This position with one more page's changes counted."""
        counts = {
            "added": self.counts.get("added", 0) + added,
            "updated": self.counts.get("updated", 0) + updated,
            "deleted": self.counts.get("deleted", 0) + deleted,
        }
        return replace(self, counts=counts)

    def to_text(self) -> str:
        return orjson.dumps(
            {
                "step": self.step,
                "next": self.next,
                "high": self.high,
                "counts": self.counts,
                "records": self.records,
                "pages": self.pages,
            }
        ).decode()

    @classmethod
    def from_text(cls, walk_id: str, run_id: str, position: str) -> WalkPosition:
        data = orjson.loads(position)
        return cls(
            walk_id,
            run_id,
            int(data["step"]),
            data["next"],
            data["high"],
            dict(data["counts"]),
            int(data["records"]),
            int(data["pages"]),
        )

    def save_params(self, connection_pk: int, updated_us: int) -> dict[str, Any]:
        """The parameters of :data:`SAVE_SQLITE` (see :func:`save_arrays` for PostgreSQL's)."""
        return {
            "walk_id": self.walk_id,
            "run_id": self.run_id,
            "connection_pk": connection_pk,
            "position": self.to_text(),
            "updated_us": updated_us,
        }


def save_arrays(positions: list[WalkPosition], connection_pk: int, updated_us: int) -> dict[str, list[Any]]:
    """The parameters of :data:`SAVE_POSTGRES` for ``positions`` (of distinct walks)."""
    return {
        "walk_ids": [p.walk_id for p in positions],
        "walk_runs": [p.run_id for p in positions],
        "walk_connections": [connection_pk] * len(positions),
        "walk_positions": [p.to_text() for p in positions],
        "walk_updated": [updated_us] * len(positions),
    }


def read_walk(walk_id: str) -> Any:
    """The statement that reads a walk's (run_id, position)."""
    return select(WALKS.c.run_id, WALKS.c.position).where(WALKS.c.walk_id == walk_id)


def forget_run(run_id: str) -> Any:
    """The statement that deletes the positions of every walk of a run."""
    return delete(WALKS).where(WALKS.c.run_id == run_id)
