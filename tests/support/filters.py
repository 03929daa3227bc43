"""BILL's nine list filter operators in plain Python: what the simulator's answers are checked against."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "in": lambda actual, wanted: actual in wanted,
    "nin": lambda actual, wanted: actual not in wanted,
    "sw": lambda actual, wanted: actual.startswith(wanted),
}


def matches(op: str, actual: Any, wanted: Any) -> bool:
    """Whether a record's value ``actual`` passes the filter ``op`` with ``wanted``."""
    return bool(OPERATORS[op](actual, wanted))
