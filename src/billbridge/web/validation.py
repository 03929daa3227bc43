"""Request checks shared by the routes: JSON gate, JSON bodies, strict query strings, numbers."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any, TypeVar

import orjson
import pydantic
from fastapi import Request

from billbridge.web.errors import ApiError, issue

M = TypeVar("M", bound=pydantic.BaseModel)

# str.isdigit() also takes "²", "①" and Arabic-Indic digits, which int() then refuses or reads as
# another number: only ASCII digits are numbers here.
_ASCII_NUMBER = re.compile(r"[0-9]{1,18}")
NUL = "\x00"


def is_ascii_number(text: str) -> bool:
    """Whether ``text`` is a whole number written in ASCII digits (at most 18 of them)."""
    return _ASCII_NUMBER.fullmatch(text) is not None


def nul_path(value: Any, path: tuple[str | int, ...] = ()) -> list[str | int] | None:
    """Where U+0000 occurs in decoded JSON (a key or a string), or None.

    PostgreSQL cannot store U+0000 in text or JSONB, so it is refused on every database alike.
    """
    if isinstance(value, str):
        return list(path) if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if NUL in str(key):
                return [*path, str(key)]
            found = nul_path(item, (*path, str(key)))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_path(item, (*path, index))
            if found is not None:
                return found
    return None


async def json_gate(request: Request) -> None:
    """Nango's gate: a ``Content-Type`` that is present but not JSON gets 415."""
    content_type = request.headers.get("content-type")
    if content_type and not content_type.lower().startswith("application/json"):
        raise ApiError(
            415,
            "invalid_content_type",
            "Send the body as JSON with 'Content-Type: application/json'.",
        )


async def read_json(request: Request, *, empty: Any = None) -> Any:
    """The decoded body; ``empty`` when there is none.

    Raises:
        ApiError: 400 ``invalid_body`` when the body is not JSON.
    """
    raw = await request.body()
    if not raw.strip():
        return empty
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, "invalid_body", "The body is not valid JSON.") from None
    where = nul_path(data)
    if where is not None:
        message = "Text may not contain the NUL character (U+0000); remove it."
        raise ApiError(400, "invalid_body", message, errors=[issue(where, message, "invalid_string")])
    return data


def parse_body(model: type[M], data: Any) -> M:
    """Validate ``data`` against ``model``; problems become 400 ``invalid_body`` with ``errors``."""
    if data is None:
        data = {}
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ApiError(400, "invalid_body", _summary(exc), errors=_issues(exc)) from None


def _issues(exc: pydantic.ValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors(include_url=False):
        loc = list(err.get("loc", ()))
        kind = str(err.get("type", "invalid"))
        message = "Unknown field; remove it." if kind == "extra_forbidden" else str(err.get("msg"))
        out.append(issue(loc, message, "unrecognized_keys" if kind == "extra_forbidden" else kind))
    return out


def _summary(exc: pydantic.ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        where = ".".join(str(p) for p in err.get("loc", ())) or "body"
        what = "unknown field" if err.get("type") == "extra_forbidden" else str(err.get("msg"))
        parts.append(f"{where}: {what}")
    return "Invalid body: " + "; ".join(parts) + "."


def strict_query(
    request: Request, allowed: Collection[str] = (), *, prefixes: Collection[str] = ()
) -> dict[str, str]:
    """The query as a dict; any key not in ``allowed`` (or starting with ``prefixes``) gets 400.

    Raises:
        ApiError: 400 ``invalid_query_params`` naming each unknown or repeated key.
    """
    problems = []
    values: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key not in allowed and not any(key.startswith(p) for p in prefixes):
            problems.append(issue([key], f"Unknown query parameter {key!r}; remove it.", "unrecognized_keys"))
        elif key in values:
            problems.append(issue([key], f"Query parameter {key!r} is given twice.", "invalid_type"))
        else:
            values[key] = value
    if problems:
        raise ApiError(400, "invalid_query_params", problems[0]["message"], errors=problems)
    return values


def boolean(values: dict[str, str], key: str) -> bool:
    """A ``true``/``false`` query flag (absent is false)."""
    raw = values.get(key)
    if raw is None or raw == "":
        return False
    if raw.lower() in {"true", "1"}:
        return True
    if raw.lower() in {"false", "0"}:
        return False
    raise ApiError(
        400,
        "invalid_query_params",
        f"{key} must be true or false.",
        errors=[issue([key], f"{key} must be true or false.", "invalid_type")],
    )


def required(values: dict[str, str], key: str) -> str:
    """A query value that must be present and non-empty."""
    raw = values.get(key)
    if not raw:
        raise ApiError(
            400,
            "invalid_query_params",
            f"The query parameter {key} is required.",
            errors=[issue([key], f"{key} is required.", "invalid_type")],
        )
    return raw


def integer(values: dict[str, str], key: str, *, low: int, high: int) -> int | None:
    """An optional whole-number query value from ``low`` to ``high`` (ASCII digits only)."""
    raw = values.get(key)
    if raw is None or raw == "":
        return None
    if not is_ascii_number(raw) or not low <= int(raw) <= high:
        message = f"{key} must be a whole number from {low} to {high}, in ASCII digits."
        raise ApiError(400, "invalid_query_params", message, errors=[issue([key], message, "invalid_type")])
    return int(raw)
