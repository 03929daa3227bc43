"""BILL list queries: ``filters=field:op:value,...`` and ``sort=field:asc,...`` parsed and evaluated."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from operator import methodcaller
from typing import Any, NamedTuple

from billbridge.simulator.clock import bill_timestamp
from billbridge.simulator.errors import SimError
from billbridge.simulator.families.base import ALL_OPS, FieldRule, Record

Predicate = Callable[[Record], bool]


class Condition(NamedTuple):
    """One parsed ``field:op:value`` term."""

    field: str
    rule: FieldRule
    op: str
    value: Any


class SortKey(NamedTuple):
    """One parsed ``field:direction`` term."""

    field: str
    rule: FieldRule
    descending: bool


def split_terms(text: str) -> list[str]:
    """Split on commas that are not inside double quotes."""
    terms: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            terms.append("".join(current))
            current = []
        else:
            current.append(char)
    if quoted:
        raise SimError("BDC_1129", "Invalid filters value: unbalanced quotes")
    terms.append("".join(current))
    return [t.strip() for t in terms if t.strip()]


def _unquote(raw: str) -> str:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return raw[1:-1]
    return raw


def _datetime(raw: str, field: str) -> str:
    text = raw[:-1] + "+00:00" if raw.endswith("Z") else raw
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SimError("BDC_1129", f"Invalid date value for {field}: {raw}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return bill_timestamp(moment.timestamp())


def _scalar(rule: FieldRule, raw: str, field: str) -> Any:
    value = _unquote(raw)
    if rule.type == "str":
        return value
    if rule.type == "num":
        try:
            return float(value)
        except ValueError:
            raise SimError("BDC_1129", f"Invalid number for {field}: {value}") from None
    if rule.type == "bool":
        if value.lower() not in ("true", "false"):
            raise SimError("BDC_1129", f"Invalid boolean for {field}: {value}")
        return value.lower() == "true"
    if rule.type == "datetime":
        return _datetime(value, field)
    if len(value) != 10 or value[4] != "-" or value[7] != "-":  # date: yyyy-MM-dd
        raise SimError("BDC_1129", f"Invalid date for {field}: {value}")
    return value


def parse_filters(text: str, fields: Mapping[str, FieldRule]) -> tuple[Condition, ...]:
    """Parse a ``filters`` parameter against a family's filterable fields."""
    conditions: list[Condition] = []
    for term in split_terms(text):
        parts = term.split(":", 2)
        if len(parts) != 3:
            raise SimError("BDC_1129", f"Invalid filter: {term}")
        field, op, raw = parts[0].strip(), parts[1].strip(), parts[2]
        rule = fields.get(field)
        if rule is None:
            raise SimError("BDC_1130", f"Invalid list filter field: {field}")
        if op not in ALL_OPS or op not in rule.ops:
            raise SimError("BDC_1131", f"Invalid list filter operator for {field}: {op}")
        if op in ("in", "nin"):
            items = [i for i in _unquote(raw).split(",") if i.strip()]
            value: Any = frozenset(_scalar(rule, i.strip(), field) for i in items)
        else:
            value = _scalar(rule, raw, field)
        conditions.append(Condition(field, rule, op, value))
    return tuple(conditions)


def parse_sort(text: str, fields: Mapping[str, FieldRule], *, single: bool = False) -> tuple[SortKey, ...]:
    """Parse a ``sort`` parameter (``f1:asc,f2:desc``; the direction defaults to asc)."""
    keys: list[SortKey] = []
    for term in split_terms(text):
        name, _, direction = term.partition(":")
        rule = fields.get(name.strip())
        if rule is None:
            raise SimError("BDC_1129", f"Invalid sort field: {name}")
        direction = direction.strip().lower() or "asc"
        if direction not in ("asc", "desc"):
            raise SimError("BDC_1129", f"Invalid sort order: {direction}")
        keys.append(SortKey(name.strip(), rule, direction == "desc"))
    if single and len(keys) > 1:
        raise SimError("BDC_1129", "Only one sort field is allowed")
    return tuple(keys)


def extract(record: Record, path: Sequence[str]) -> Any:
    """The value at ``path``; a ``"[]"`` step returns a list of the values under every element."""
    value: Any = record
    for index, step in enumerate(path):
        if step == "[]":
            if not isinstance(value, list):
                return None
            rest = path[index + 1 :]
            found = [extract(item, rest) for item in value]
            return [v for v in found if v is not None]
        if not isinstance(value, dict):
            return None
        value = value.get(step)
    return value


def getter(path: tuple[str, ...]) -> Callable[[Record], Any]:
    """A fast accessor for ``path`` (lists are evaluated over 100,000 records at a time)."""
    if len(path) == 1:
        return methodcaller("get", path[0])
    if len(path) == 2 and "[]" not in path:
        outer, inner = path

        def two_steps(record: Record) -> Any:
            value = record.get(outer)
            return value.get(inner) if isinstance(value, dict) else None

        return two_steps
    return lambda record: extract(record, path)


def _test(op: str, actual: Any, expected: Any) -> bool:
    if actual is None:
        return op in ("ne", "nin")
    if op == "eq":
        return bool(actual == expected)
    if op == "ne":
        return bool(actual != expected)
    if op == "in":
        return actual in expected
    if op == "nin":
        return actual not in expected
    if op == "sw":
        return isinstance(actual, str) and actual.startswith(expected)
    comparable = isinstance(actual, type(expected)) or (
        isinstance(actual, int) and isinstance(expected, float)
    )
    if isinstance(actual, bool) or not comparable:
        return False
    if op == "gt":
        return bool(actual > expected)
    if op == "gte":
        return bool(actual >= expected)
    if op == "lt":
        return bool(actual < expected)
    return bool(actual <= expected)


def predicate(condition: Condition) -> Predicate:
    """``record -> bool`` for one condition (any element of a list value; none for ne/nin)."""
    get = getter(condition.rule.path)
    op, expected = condition.op, condition.value
    if "[]" not in condition.rule.path:
        if op == "eq" and condition.rule.type != "num":
            return lambda record: get(record) == expected
        return lambda record: _test(op, get(record), expected)

    def over_list(record: Record) -> bool:
        actual = get(record)
        if not isinstance(actual, list):
            return _test(op, actual, expected)
        if op in ("ne", "nin"):
            return all(_test(op, item, expected) for item in actual)
        return any(_test(op, item, expected) for item in actual)

    return over_list


def matches(record: Record, condition: Condition) -> bool:
    """Whether ``record`` satisfies one condition."""
    return predicate(condition)(record)


def sort_ids(ids: list[str], records: Mapping[str, Record], keys: Sequence[SortKey]) -> list[str]:
    """Stable multi-key sort; ties keep the family's natural (creation) order. Nulls sort first.

    Sorts a permutation once per key (last key first) with C-level keys where possible.
    """
    order = list(range(len(ids)))
    rows = list(map(records.__getitem__, ids))
    for key in reversed(keys):
        values = list(map(getter(key.rule.path), rows))
        if any(v is None or isinstance(v, list) for v in values):
            values = [_sortable(v) for v in values]
        order.sort(key=values.__getitem__, reverse=key.descending)
    return [ids[i] for i in order]


def _sortable(value: Any) -> tuple[bool, Any]:
    if isinstance(value, list):
        value = value[0] if value else None
    return (value is not None, value if value is not None else 0)
