"""Records of one (organization, family): generated lazily, kept pre-serialised, mutated by the API."""

from __future__ import annotations

import gc
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from billbridge.simulator.errors import SimError
from billbridge.simulator.families import FamilySpec, GenContext, Record
from billbridge.simulator.families.base import Refs, Write
from billbridge.simulator.families.checks import require
from billbridge.simulator.query import (
    Condition,
    SortKey,
    getter,
    parse_filters,
    parse_sort,
    predicate,
    sort_ids,
)

_SYSTEM_FIELDS = frozenset({"id", "createdTime", "updatedTime", "archived"})
_QUERY_CACHE_SIZE = 32
# The field every sync pages by, kept sorted both ways like a database index (``build_indexes``).
_INDEXED = "updatedTime"

#: Told of every change of a record: ``listener(store, change, record)``, where ``change`` is
#: ``created``, ``updated``, ``archived``, ``restored`` or ``deleted`` (webhook events hang on it).
ChangeListener = Callable[["FamilyStore", str, Record], None]


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection in the block: building a list of a whole family, or the family
    itself, would otherwise make it walk every record each time the new objects promote (a full
    pass took 0.26 s at 300,000 vendors); records hold no cycles, so nothing is lost."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _merge(target: Record, patch: Record) -> None:
    for key, value in patch.items():
        current = target.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            _merge(current, value)
        else:
            target[key] = value


def _check_types(template: Record, body: Record) -> None:
    # BILL refuses a string where a number belongs (and so on); nested shapes are not checked.
    for key, value in body.items():
        current = template.get(key)
        if value is None or current is None:
            continue
        if isinstance(current, bool) != isinstance(value, bool) or (
            isinstance(current, str) != isinstance(value, str)
        ):
            raise SimError("BDC_1129", f"Invalid value for {key}")


class FamilyStore:
    """Every record of one family in one organization, in creation order.

    Args:
        spec: The family.
        ctx: Generation context of the organization.
        records: The initial records (already generated).
        refs: The other records of the organization (for references); None for a store alone.
    """

    def __init__(
        self, spec: FamilySpec, ctx: GenContext, records: list[Record], *, refs: Refs | None = None
    ) -> None:
        self.spec = spec
        self.ctx = ctx
        self.refs = refs
        self.records: dict[str, Record] = {}
        self.encoded: dict[str, bytes] = {}
        self.order: list[str] = []
        self.version = 0
        self.next_serial = len(records)
        #: Sub-resources kept beside the records (vendor bank accounts), by record id.
        self.extras: dict[str, Record] = {}
        self.extra_serial = 0
        self._queries: OrderedDict[tuple[str, str], tuple[int, list[str]]] = OrderedDict()
        self._sorted: dict[str, tuple[int, list[str], list[str]]] = {}
        self.listener: ChangeListener | None = None
        for record in records:
            self._store(record)

    def _changed(self, change: str, record: Record, before: Record | None = None) -> None:
        if self.listener is None:
            return
        if before is not None and change == "updated" and record.get("archived") != before.get("archived"):
            change = "archived" if record.get("archived") else "restored"
        self.listener(self, change, record)

    def _store(self, record: Record) -> None:
        record_id = record["id"]
        if record_id not in self.records:
            self.order.append(record_id)
        self.records[record_id] = record
        self.encoded[record_id] = orjson.dumps(record)

    def get(self, record_id: str) -> Record:
        """The record with ``record_id`` or BDC_1120 (404)."""
        record = self.records.get(record_id)
        if record is None:
            raise SimError("BDC_1120", f"No {self.spec.path} object found with id {record_id}.")
        return record

    def query_ids(self, filters: str, sort: str) -> list[str]:
        """IDs matching ``filters`` in ``sort`` order; cached until the family changes."""
        key = (filters, sort)
        cached = self._queries.get(key)
        if cached is not None and cached[0] == self.version:
            self._queries.move_to_end(key)
            return cached[1]
        conditions = parse_filters(filters, self.spec.filters) if filters else ()
        keys = parse_sort(sort, self.spec.sorts, single=self.spec.single_sort) if sort else ()
        records = self.records
        ids = self.order
        ranged = _range_on_sort_key(conditions, keys)
        if ranged is not None:
            # A range on the (ascending) sort field, e.g. updatedTime:gte:X sorted by updatedTime:
            # cut the cached sorted order with a binary search instead of testing every record,
            # as a database index would (incremental syncs ask this with a new bound every page).
            ids = self._sorted_range(sort, keys[0], ranged)
            conditions = tuple(c for c in conditions if c not in ranged)
            keys = ()
        with collector_paused():
            for condition in conditions:
                test = predicate(condition)
                ids = [i for i, ok in zip(ids, map(test, map(records.__getitem__, ids)), strict=True) if ok]
            if keys:
                ids = sort_ids(ids, records, keys)
        self._queries[key] = (self.version, ids)
        if len(self._queries) > _QUERY_CACHE_SIZE:
            self._queries.popitem(last=False)
        return ids

    def query_page(self, filters: str, sort: str, offset: int, size: int) -> tuple[list[str], int]:
        """The ids of one page of a query (``size`` from ``offset``) and how many match in all.

        A query that is only a range on its ascending sort field (what keyset paging asks for
        every page, each time with a new bound) is cut from the cached sorted order without
        copying the range: a copy costs the whole rest of a large list on every page.
        """
        if filters and sort:
            conditions = parse_filters(filters, self.spec.filters)
            keys = parse_sort(sort, self.spec.sorts, single=self.spec.single_sort)
            ranged = _range_on_sort_key(conditions, keys)
            if ranged is not None and len(ranged) == len(conditions):
                ordered, low, high = self._sorted_bounds(sort, keys[0], ranged)
                start = low + offset
                return ordered[start : min(start + size, high)], max(0, high - low)
        ids = self.query_ids(filters, sort)
        return ids[offset : offset + size], len(ids)

    def _sorted_range(self, sort: str, key: SortKey, ranged: tuple[Condition, ...]) -> list[str]:
        """The ids of the cached ``sort`` order whose sort value satisfies every range condition."""
        ordered, low, high = self._sorted_bounds(sort, key, ranged)
        return ordered[low:high] if low < high else []

    def build_indexes(self) -> None:
        """Sort the family by ``updatedTime`` both ways now, as BILL's database keeps that index.

        Built on first use instead, the first page of a sync's first run, its newest-record query
        and its first page with a time range each sorted the whole family: over a second apiece
        at 1,000,000 records, which BILL does not take.
        """
        rule = self.spec.sorts.get(_INDEXED)
        if rule is None:
            return
        self.query_ids("", f"{_INDEXED}:desc")
        self._sorted_bounds(f"{_INDEXED}:asc", SortKey(_INDEXED, rule, False), ())

    def _sorted_bounds(
        self, sort: str, key: SortKey, ranged: tuple[Condition, ...]
    ) -> tuple[list[str], int, int]:
        """The cached ``sort`` order and the bounds of the part satisfying every range condition."""
        cached = self._sorted.get(sort)
        if cached is None or cached[0] != self.version:
            ordered = self.query_ids("", sort)
            read = getter(key.rule.path)
            with collector_paused():
                values = [
                    v if isinstance(v, str) else "" for v in map(read, map(self.records.__getitem__, ordered))
                ]
            cached = self._sorted[sort] = (self.version, ordered, values)
        _, ordered, values = cached
        low, high = 0, len(values)
        for condition in ranged:
            bound = condition.value
            if condition.op == "gte":
                low = max(low, bisect_left(values, bound))
            elif condition.op == "gt":
                low = max(low, bisect_right(values, bound))
            elif condition.op == "lt":
                high = min(high, bisect_left(values, bound))
            else:
                high = min(high, bisect_right(values, bound))
        return ordered, low, high

    def create(self, body: Record, *, now: str, validate: bool = True) -> Record:
        """Create a record from ``body`` as the API does: the caller's fields, what BILL documents
        a new record to start with (``spec.initial``) and what it computes, nothing invented.

        ``validate=False`` (the control surface) skips the checks and fills the record like a
        generated one instead, as if it had been made in BILL's web app.
        """
        serial = self.next_serial
        template = self.spec.generate(self.ctx, serial)
        record_id = self.ctx.id(self.spec.prefix, serial) if len(self.spec.prefix) == 3 else template["id"]
        if validate:
            require(body, self.spec.required)
            record: Record = {"id": record_id}
            if self.spec.archivable:
                record["archived"] = False
            record.update(orjson.loads(orjson.dumps(dict(self.spec.initial))))
            self._apply(record, body, shape=template, now=now, creating=True, serial=serial)
        else:
            record = template
            _merge(record, {k: v for k, v in body.items() if k not in _SYSTEM_FIELDS})
            record["id"] = record_id
            if "archived" in record:
                record["archived"] = False
        record.pop("createdTime", None)
        record.pop("updatedTime", None)
        record["createdTime"] = record["updatedTime"] = now
        self.next_serial += 1
        self._store(record)
        self.version += 1
        self._changed("created", record)
        return record

    def insert(self, fields: Record, *, now: str) -> Record:
        """Store a record made by another operation (a recorded payment) exactly as ``fields``."""
        serial = self.next_serial
        record = {
            "id": self.ctx.id(self.spec.prefix, serial),
            **fields,
            "createdTime": now,
            "updatedTime": now,
        }
        self.next_serial += 1
        self._store(record)
        self.version += 1
        self._changed("created", record)
        return record

    def insert_as(self, record_id: str, record: Record) -> Record:
        """Store ``record`` under an ID another family gave it (a budget member is its user)."""
        if record_id in self.records:
            raise SimError("BDC_1129", f"{record_id} exists already")
        record = {"id": record_id, **{k: v for k, v in record.items() if k != "id"}}
        self._store(record)
        self.version += 1
        self._changed("created", record)
        return record

    def update(self, record_id: str, body: Record, *, now: str, replace: bool = False) -> Record:
        """PATCH (merge) or PUT (required fields present) ``body`` into a record."""
        current = self.get(record_id)
        if replace:
            require(body, self.spec.required)
        record: Record = orjson.loads(self.encoded[record_id])
        shape = self.spec.generate(self.ctx, 0)
        self._apply(record, body, shape=shape, now=now, creating=False, serial=0)
        record["id"] = current["id"]
        record["updatedTime"] = now
        self._store(record)
        self.version += 1
        self._changed("updated", record, current)
        return record

    def delete(self, record_id: str) -> None:
        """Remove a record: lists and reads no longer find it (S&E deletes)."""
        record = self.get(record_id)
        del self.records[record_id], self.encoded[record_id]
        self.order.remove(record_id)
        self.version += 1
        self._changed("deleted", record)

    def set_field(self, record_id: str, field: str, value: Any, *, now: str) -> Record:
        """Set one field (archive, restore, cancel...); setting the current value changes nothing."""
        current = self.get(record_id)
        if current.get(field) == value:
            return current
        record = dict(current)
        record[field] = value
        record["updatedTime"] = now
        self._store(record)
        self.version += 1
        self._changed("updated", record, current)
        return record

    def force(self, record_id: str, changes: Record, *, now: str) -> Record:
        """Change any fields without validation (the control surface's "behind the client's back")."""
        current = self.get(record_id)
        record: Record = orjson.loads(self.encoded[current["id"]])
        _merge(record, changes)
        record["id"] = record_id
        record["updatedTime"] = changes.get("updatedTime", now)
        self._store(record)
        self.version += 1
        self._changed("updated", record, current)
        return record

    def _apply(
        self, record: Record, body: Record, *, shape: Record, now: str, creating: bool, serial: int
    ) -> None:
        """Merge the caller's fields (types checked against a generated record's ``shape``), then
        let the family complete the record."""
        sent = {k: v for k, v in body.items() if k not in _SYSTEM_FIELDS and k not in self.spec.inputs}
        _check_types(shape, sent)
        _merge(record, sent)
        if self.spec.on_write is not None:
            if self.refs is None:
                raise SimError("BDC_1001", "This store cannot reach the organization's other records")
            write = Write(self.ctx, body, record, self.refs, now, creating, serial)
            self.spec.on_write(write)


def _range_on_sort_key(
    conditions: tuple[Condition, ...], keys: tuple[SortKey, ...]
) -> tuple[Condition, ...] | None:
    """The range conditions on the one ascending, single-valued text sort key (None: no fast path)."""
    if len(keys) != 1 or keys[0].descending or keys[0].rule.type != "datetime" or "[]" in keys[0].rule.path:
        return None
    ranged = tuple(c for c in conditions if c.field == keys[0].field and c.op in ("gt", "gte", "lt", "lte"))
    return ranged or None
