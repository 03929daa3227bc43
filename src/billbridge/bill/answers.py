"""Reading BILL's answers: JSON bodies, and error lists turned into the exception tree.

An error answer is a JSON list of ``{timestamp, code, severity, category, message}``
(https://developer.bill.com/v3/docs/v3-api-response-changes); the first entry's ``BDC_`` code
picks the class from ``codes.CODES``. A body that is not such a list still gives a clear error
with the status and a short excerpt. Secrets the caller names are scrubbed from every text.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

import orjson

from billbridge.bill.codes import RATE_LIMITED, CodeInfo, code_info
from billbridge.bill.limits import next_hour
from billbridge.bill.transport import RawResponse
from billbridge.errors import BillAPIError, RateLimitError

EXCERPT_CHARS: Final = 200


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret in ``text`` with ``***``.

    Secrets shorter than 4 characters are left alone: they would garble every word.
    """
    for secret in secrets:
        if len(secret) >= 4 and secret in text:
            text = text.replace(secret, "***")
    return text


def error_entries(body: bytes) -> list[dict[str, Any]] | None:
    """BILL's error objects in ``body``, or None if the body is not BILL's error shape."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(data, dict) and ("code" in data or "message" in data):
        data = [data]
    if isinstance(data, list) and data and all(isinstance(item, dict) for item in data):
        return data
    return None


def first_code(entries: list[dict[str, Any]] | None) -> str | None:
    """The first ``BDC_`` code among BILL's error objects."""
    for entry in entries or ():
        code = entry.get("code")
        if isinstance(code, str) and code:
            return code
    return None


def error_code(raw: RawResponse) -> str | None:
    """The first BDC code of an error answer (None for success or a codeless body)."""
    if raw.status < 400:
        return None
    return first_code(error_entries(raw.body))


def _describe(info: CodeInfo, bill_message: str, *, environment: str | None, count: int) -> str:
    if info.refused is None:
        return bill_message + (f" (and {count - 1} more errors)" if count > 1 else "")
    where = f"the {environment} environment" if environment else "this BILL environment"
    # BILL answers a credential of the other environment exactly like a wrong one.
    text = (
        f"BILL did not accept {info.refused} in {where} "
        f"({info.refused} of the other BILL environment would be refused the same way)"
    )
    return f"{text}: {bill_message}" if bill_message else text


def build_error(
    raw: RawResponse,
    *,
    request: str | None = None,
    environment: str | None = None,
    secrets: Iterable[str] = (),
    now: float | None = None,
    reset_at: datetime | None = None,
) -> BillAPIError:
    """The exception for an error answer (status 400 or above).

    Args:
        raw: BILL's answer.
        request: "METHOD /path" (never the query or headers).
        environment: "sandbox" or "production", named in credential errors.
        secrets: values to scrub from any text taken from the answer.
        now: epoch seconds for ``RateLimitError.reset_at`` (default: the system clock).
        reset_at: when a spent budget returns, if not the top of the next hour.
    """
    secrets = tuple(secrets)
    entries = error_entries(raw.body)
    code = first_code(entries)
    info = code_info(code, raw.status)
    if entries is None:
        excerpt = raw.body[:EXCERPT_CHARS].decode("utf-8", errors="replace")
        message = (
            f"BILL answered HTTP {raw.status} with a body that is not BILL's error list: "
            f"{scrub(excerpt, secrets)!r}"
        )
        return info.error(
            message, code=f"http_{raw.status}", http_status=raw.status, request=request, errors=[]
        )
    bill_message = next(
        (str(e["message"]) for e in entries if isinstance(e.get("message"), str) and e["message"]),
        info.meaning,
    )
    # Only BILL's own words can echo a secret; the text around them is ours.
    message = _describe(info, scrub(bill_message, secrets), environment=environment, count=len(entries))
    kwargs: dict[str, Any] = {
        "code": code or f"http_{raw.status}",
        "http_status": raw.status,
        "request": request,
        "errors": [_scrub_entry(entry, secrets) for entry in entries],
    }
    if info.error is RateLimitError or code == RATE_LIMITED:
        if reset_at is None:
            reset_at = next_hour(time.time() if now is None else now)
        return RateLimitError(message, reset_at=reset_at, **kwargs)
    return info.error(message, **kwargs)


def _scrub_entry(entry: dict[str, Any], secrets: tuple[str, ...]) -> dict[str, Any]:
    if not secrets:
        return entry
    return {k: scrub(v, secrets) if isinstance(v, str) else v for k, v in entry.items()}


def parse_error(
    raw: RawResponse,
    *,
    request: str | None = None,
    environment: str | None = None,
    secrets: Iterable[str] = (),
) -> BillAPIError | None:
    """The exception an answer stands for, or None if it is a success (status below 400)."""
    if raw.status < 400:
        return None
    return build_error(raw, request=request, environment=environment, secrets=secrets)


def decode_json(raw: RawResponse, *, request: str | None = None) -> Any:
    """The JSON of a successful answer (None for an empty body).

    Raises:
        BillAPIError: if the body is not JSON.
    """
    if not raw.body:
        return None
    try:
        return orjson.loads(raw.body)
    except orjson.JSONDecodeError:
        excerpt = raw.body[:EXCERPT_CHARS].decode("utf-8", errors="replace")
        raise BillAPIError(
            f"BILL answered HTTP {raw.status} with a body that is not JSON: {excerpt!r}",
            code="unexpected_answer",
            http_status=raw.status,
            request=request,
        ) from None
