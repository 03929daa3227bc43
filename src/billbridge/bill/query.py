"""Typed ``filters=`` and ``sort=`` for BILL list calls, written the way BILL reads them.

``filters={field}:{op}:{value},...`` (comma = AND) with the nine operators, string values quoted
when they hold a comma or colon, booleans and numbers bare, ``in``/``nin`` lists quoted and
comma-joined, datetimes as ``"2025-09-01T00:00:00.000Z"``; ``sort={field}:{asc|desc},...``
(https://developer.bill.com/docs/search-op-with-lists).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Final, Literal, get_args

from billbridge.errors import ValidationError

Operator = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "sw"]
OPERATORS: Final[tuple[str, ...]] = get_args(Operator)
Scalar = str | bool | int | float | Decimal | date | datetime
FilterValue = Scalar | Sequence[Scalar]

_LIST_OPERATORS: Final = frozenset({"in", "nin"})


def format_datetime(value: datetime) -> str:
    """Format an aware datetime as BILL's filters accept it: UTC, milliseconds, ``Z``."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(
            "filter datetimes must carry a time zone (e.g. datetime.now(UTC))", field="filters"
        )
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _bare(value: Scalar) -> str:
    """The value's text before any quoting."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float | Decimal):
        return str(value)
    return value


def _check_field(name: str, what: str) -> None:
    if not name or any(ch in name for ch in ',:"') or name != name.strip():
        raise ValidationError(f"{what} field {name!r} must be a plain field name", field=what)


@dataclass(frozen=True, slots=True)
class Filter:
    """One condition of a list call, e.g. ``Filter("updatedTime", "gte", since)``."""

    field: str
    op: Operator
    value: FilterValue

    def __post_init__(self) -> None:
        _check_field(self.field, "filters")
        if self.op not in OPERATORS:
            raise ValidationError(
                f"unknown filter operator {self.op!r}; use one of {', '.join(OPERATORS)}", field="filters"
            )
        is_list = isinstance(self.value, Sequence) and not isinstance(self.value, str)
        if (self.op in _LIST_OPERATORS) != is_list:
            need = "a list of values" if self.op in _LIST_OPERATORS else "a single value"
            raise ValidationError(f"filter {self.field}:{self.op} takes {need}", field="filters")

    def to_param(self) -> str:
        """This condition as BILL's ``field:op:value`` text."""
        value = self.value
        if isinstance(value, Sequence) and not isinstance(value, str):
            items = [_bare(item) for item in value]
            if not items or any("," in item or '"' in item for item in items):
                raise ValidationError(
                    f"filter {self.field}:{self.op} needs at least one value, none holding a comma "
                    "or a double quote",
                    field="filters",
                )
            return f'{self.field}:{self.op}:"{",".join(items)}"'
        text = _bare(value)
        # Quoted too: empty text, and edge spaces a server would trim from a bare value.
        if isinstance(value, str | datetime) and (
            text == "" or "," in text or ":" in text or text != text.strip()
        ):
            if '"' in text:
                raise ValidationError(
                    f"filter {self.field}:{self.op} cannot hold both a double quote and a comma or colon",
                    field="filters",
                )
            return f'{self.field}:{self.op}:"{text}"'
        return f"{self.field}:{self.op}:{text}"


@dataclass(frozen=True, slots=True)
class Sort:
    """One sort key, e.g. ``Sort("updatedTime")`` or ``Sort("name", desc=True)``."""

    field: str
    desc: bool = False

    def __post_init__(self) -> None:
        _check_field(self.field, "sort")

    def to_param(self) -> str:
        """This key as BILL's ``field:asc`` or ``field:desc`` text."""
        return f"{self.field}:{'desc' if self.desc else 'asc'}"


Filters = Sequence[Filter] | Filter | str
Sorts = Sequence[Sort] | Sort | str


def filters_param(filters: Filters | None) -> str | None:
    """The ``filters`` query value (None if there is nothing to filter on); text passes as is."""
    if filters is None or isinstance(filters, str):
        return filters or None
    if isinstance(filters, Filter):
        filters = [filters]
    return ",".join(item.to_param() for item in filters) or None


def sort_param(sort: Sorts | None) -> str | None:
    """The ``sort`` query value (None for BILL's default order); text passes as is."""
    if sort is None or isinstance(sort, str):
        return sort or None
    if isinstance(sort, Sort):
        sort = [sort]
    return ",".join(item.to_param() for item in sort) or None


def list_params(
    *, max: int, sort: Sorts | None = None, filters: Filters | None = None, page: str | None = None
) -> list[tuple[str, str]]:
    """The query parameters of one list call, validating ``max`` (1..100).

    Raises:
        ValidationError: naming ``max`` when it is not an integer from 1 to 100.
    """
    if isinstance(max, bool) or not isinstance(max, int) or not 1 <= max <= 100:
        raise ValidationError(f"max must be an integer from 1 to 100, not {max!r}", field="max")
    params = [("max", str(max))]
    sort_text = sort_param(sort)
    if sort_text:
        params.append(("sort", sort_text))
    filters_text = filters_param(filters)
    if filters_text:
        params.append(("filters", filters_text))
    if page:
        params.append(("page", page))
    return params
