"""Checks a write applies before BILL would accept it: formats, enums, amounts, line items."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from typing import Any

from billbridge.simulator.errors import SimError
from billbridge.simulator.families.base import Record


def missing(body: Mapping[str, Any], paths: Collection[str]) -> str | None:
    """The first of ``paths`` (dotted) that ``body`` lacks or leaves empty, or None."""
    for path in paths:
        value: Any = body
        for step in path.split("."):
            value = value.get(step) if isinstance(value, Mapping) else None
        if value is None or value == "" or value == []:
            return path
    return None


def require(body: Mapping[str, Any], paths: Collection[str]) -> None:
    """BDC_1108 naming the first required field ``body`` lacks."""
    absent = missing(body, paths)
    if absent is not None:
        raise SimError("BDC_1108", f"Missing required field: {absent}")


def bill_date(value: Any, field: str) -> str:
    """``value`` as BILL's business date (``yyyy-MM-dd``), or BDC_1129 naming ``field``."""
    if isinstance(value, str) and len(value) == 10:
        try:
            date.fromisoformat(value)
        except ValueError:
            pass
        else:
            return value
    raise SimError("BDC_1129", f"Invalid date for {field}: {value!r}; use yyyy-MM-dd")


def dates(record: Mapping[str, Any], *paths: str) -> None:
    """Every dotted path of ``record`` that holds a value must be a ``yyyy-MM-dd`` date."""
    for path in paths:
        value: Any = record
        for step in path.split("."):
            value = value.get(step) if isinstance(value, Mapping) else None
        if value is not None:
            bill_date(value, path)


def one_of(value: Any, allowed: Collection[str], field: str) -> str:
    """``value`` if it is one of ``allowed``; BDC_1129 listing them otherwise."""
    if value not in allowed:
        raise SimError("BDC_1129", f"Invalid value for {field}: {value!r}; use one of {', '.join(allowed)}")
    return str(value)


def enums(record: Mapping[str, Any], allowed: Mapping[str, Collection[str]]) -> None:
    """Every field of ``allowed`` that ``record`` carries holds one of its values."""
    for field, values in allowed.items():
        if record.get(field) is not None:
            one_of(record[field], values, field)


def money(value: Any, field: str, *, positive: bool = False) -> float:
    """``value`` as an amount (rounded to cents), or BDC_1129 naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SimError("BDC_1129", f"Invalid amount for {field}: {value!r}")
    try:
        amount = round(float(value), 2)
    except ValueError:
        raise SimError("BDC_1129", f"Invalid amount for {field}: {value!r}") from None
    if amount < 0 or (positive and amount <= 0):
        raise SimError("BDC_1129", f"{field} must be {'more than' if positive else 'at least'} 0")
    return amount


def line_items(value: Any, field: str) -> list[Record]:
    """A non-empty list of line item objects, or BDC_1129."""
    if not isinstance(value, list) or not value or not all(isinstance(i, dict) for i in value):
        raise SimError("BDC_1129", f"{field} must be a non-empty list of objects")
    return value


def line_amount(item: Record, field: str) -> float:
    """A line's amount: as sent, else quantity x price (BILL computes it, changelog 2024)."""
    if item.get("amount") is not None:
        return money(item["amount"], f"{field}.amount")
    if item.get("quantity") is None or item.get("price") is None:
        raise SimError("BDC_1108", f"Missing required field: {field}.amount (or quantity and price)")
    quantity = money(item["quantity"], f"{field}.quantity")
    return round(quantity * money(item["price"], f"{field}.price"), 2)
