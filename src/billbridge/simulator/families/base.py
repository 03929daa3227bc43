"""What an object family is: its path, ID prefix, record generator, filterable and sortable fields."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from billbridge.simulator.clock import bill_date, bill_timestamp
from billbridge.simulator.errors import SimError
from billbridge.simulator.ids import mix64, object_id, text_hash

T = TypeVar("T")
FieldType = Literal["str", "num", "bool", "datetime", "date"]
Record = dict[str, Any]

ALL_OPS = frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "sw"})

# Generated records are spread over the two years before this instant (2025-06-01T00:00:00Z),
# so worlds do not depend on the day they are built.
ANCHOR = 1_748_736_000
SPAN = 2 * 365 * 86_400


@dataclass(frozen=True, slots=True)
class FieldRule:
    """A field that lists can filter or sort on.

    Attributes:
        type: How filter values are parsed and compared.
        ops: Allowed filter operators.
        path: Where the value sits in the record; ``"[]"`` steps into every element of a list.
    """

    type: FieldType
    ops: frozenset[str]
    path: tuple[str, ...]


class Draw:
    """Cheap random draws (the stdlib's ``choice``/``randrange`` cost a microsecond each)."""

    __slots__ = ("random",)

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed).random

    def choice(self, seq: Sequence[T]) -> T:
        """A random element of ``seq``."""
        return seq[int(self.random() * len(seq))]

    def randrange(self, start: int, stop: int | None = None) -> int:
        """A random integer in ``range(start, stop)`` (or ``range(start)``)."""
        if stop is None:
            start, stop = 0, start
        return start + int(self.random() * (stop - start))

    def uniform(self, low: float, high: float) -> float:
        """A random float between ``low`` and ``high``."""
        return low + (high - low) * self.random()


@dataclass(frozen=True, slots=True)
class GenContext:
    """What a generator needs to build records of one organization deterministically.

    ``stream``, when set, is one random stream shared by a whole batch generated in serial order
    (seeding a generator per record would cost more than building the record).
    """

    salt: int
    org_index: int
    org_id: str
    records: int
    stream: Draw | None = None

    def id(self, prefix: str, serial: int) -> str:
        """The ID of record ``serial`` of the family with ``prefix`` in this organization."""
        return object_id(prefix, salt=self.salt, org_index=self.org_index, serial=serial)

    def rng(self, family: str, serial: int) -> Draw:
        """The batch stream, or a random stream private to one record."""
        if self.stream is not None:
            return self.stream
        return Draw(mix64(self.salt ^ text_hash(family, self.org_index) ^ (serial * 0x9E3779B1)))

    def batch(self, family: str) -> GenContext:
        """This context with a stream for generating ``family`` from serial 0 upwards."""
        stream = Draw(mix64(self.salt ^ text_hash(family, self.org_index, "batch")))
        return GenContext(self.salt, self.org_index, self.org_id, self.records, stream)

    def pick(self, family: str, serial: int, count: int) -> int:
        """A deterministic index in ``range(count)`` tied to ``(family, serial)`` (for references)."""
        return mix64(self.salt ^ text_hash(family) ^ (serial << 20) ^ self.org_index) % max(count, 1)

    def created(self, serial: int) -> int:
        """Creation time of record ``serial``: increasing with the serial."""
        return ANCHOR - SPAN + (SPAN * serial) // max(self.records, 1) + serial % 7

    def stamps(self, rng: Draw, serial: int) -> tuple[str, str]:
        """``(createdTime, updatedTime)`` of a generated record."""
        created = self.created(serial)
        updated = min(created + rng.randrange(0, 45 * 86_400), ANCHOR)
        return bill_timestamp(created), bill_timestamp(max(updated, created))

    def date_near(self, rng: Draw, serial: int, *, days: int) -> str:
        """A business date within ``days`` days after the record's creation."""
        return bill_date(self.created(serial) + rng.randrange(0, days + 1) * 86_400)

    def any_id(self, rng: Draw, prefix: str) -> str:
        """The ID of a random record of the family with ``prefix`` (for references)."""
        return self.id(prefix, rng.randrange(max(self.records, 1)))


Generator = Callable[[GenContext, int], Record]


class Refs(Protocol):
    """The other records of the organization a write may read or create (for references)."""

    def find(self, family: str, record_id: str) -> Record | None:
        """The record of ``family`` with ``record_id``, or None."""

    def create(self, family: str, body: Record, *, now: str) -> Record:
        """Create a record of ``family`` from ``body`` as the API would (validated)."""

    def change(self, family: str, record_id: str, changes: Record, *, now: str) -> Record:
        """Set fields of a record of ``family`` (a side effect of this write on another record)."""


@dataclass(frozen=True, slots=True)
class Write:
    """One create or update, as a family's hook sees it.

    Attributes:
        ctx: Generation context of the organization.
        body: What the caller sent.
        record: The record after the body was merged in; the hook completes it.
        refs: The organization's other records.
        now: BILL timestamp of the write.
        creating: True for a create, False for an update (PATCH or PUT).
        serial: The record's number in its family (creation order).
    """

    ctx: GenContext
    body: Record
    record: Record
    refs: Refs
    now: str
    creating: bool
    serial: int = 0

    def today(self) -> str:
        """The business date (``yyyy-MM-dd``) of the write."""
        return self.now[:10]


#: Adjusts a record after a create or update merged the body into it (computed fields, references).
WriteHook = Callable[[Write], None]


def referenced(refs: Refs, family: str, ref: object, *, what: str) -> Record:
    """The record of ``family`` a write refers to; BDC_1129 naming ``what`` when there is none."""
    record = refs.find(family, str(ref))
    if record is None:
        raise SimError("BDC_1129", f"Invalid {what} id: {ref}")
    return record


def _never(_action: str, _body: Record) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class FamilySpec:
    """One object family of BILL's v3 API.

    Attributes:
        path: Path under ``/v3`` (``vendors``, ``classifications/chart-of-accounts``).
        prefix: The three-character ID prefix.
        generate: Builds record ``serial`` of an organization.
        filters: Filterable fields (from :mod:`.lists`).
        sorts: Sortable fields (from :mod:`.lists`).
        required: Fields a create (and a PUT) must carry.
        initial: What BILL documents a new record to start with besides the caller's fields.
        inputs: Fields a write accepts but does not store as sent (``roleId``, ``customer``).
        on_write: Completes a record after a create or update merged the body into it.
        creatable: False for read-only families (roles, receivable payments).
        archivable: Whether ``/archive`` and ``/restore`` exist.
        restorable: False when an archived record can never be restored (vendor credits).
        archive_refusal: Why a record cannot be archived (a BDC_1129 message), or None if it can.
        replaceable: Whether ``PUT /{id}`` exists.
        protected: ``(action, body) -> bool``: the write needs an MFA-trusted session.
        fixed_count: The family has this many records whatever ``--records`` says.
        event: Webhook object key (``vendor``) or None.
        max_page: Largest ``max`` a list accepts.
        single_sort: Only one sort field is allowed (Spend & Expense lists).
    """

    path: str
    prefix: str
    generate: Generator
    filters: Mapping[str, FieldRule]
    sorts: Mapping[str, FieldRule]
    required: tuple[str, ...] = ()
    initial: Mapping[str, Any] = field(default_factory=dict)
    inputs: frozenset[str] = frozenset()
    on_write: WriteHook | None = None
    creatable: bool = True
    archivable: bool = True
    restorable: bool = True
    archive_refusal: Callable[[Record], str | None] | None = None
    replaceable: bool = False
    protected: Callable[[str, Record], bool] = _never
    fixed_count: int | None = None
    event: str | None = None
    max_page: int = 100
    single_sort: bool = False

    def count(self, records: int) -> int:
        """How many records an organization has at the start."""
        return self.fixed_count if self.fixed_count is not None else records
