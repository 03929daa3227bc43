"""Walking BILL lists page by page: ``max``, opaque ``page`` tokens, ``nextPage``/``prevPage``.

The walk stops only when an answer carries no ``nextPage``: an empty or short page is not the
end (https://developer.bill.com/docs/search-op-with-lists). A token that comes back a second time
would loop forever, so it raises instead. Every page is yielded with its ``next_page``, so a caller
can save that token and resume from it later.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from billbridge.bill.query import Filters, Sorts, list_params
from billbridge.errors import BillAPIError

Fetch = Callable[[list[tuple[str, str]]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list: its records and the tokens of the pages around it."""

    results: list[dict[str, Any]]
    next_page: str | None
    prev_page: str | None


def parse_page(answer: Any, *, request: str | None = None) -> Page:
    """Read one list answer ``{"results": [...], "nextPage": ..., "prevPage": ...}``.

    Raises:
        BillAPIError: if the answer does not have that shape.
    """
    if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
        raise BillAPIError(
            "BILL's list answer has no 'results' list", code="unexpected_answer", request=request
        )
    next_page = answer.get("nextPage")
    prev_page = answer.get("prevPage")
    return Page(
        results=answer["results"],
        next_page=next_page if isinstance(next_page, str) and next_page else None,
        prev_page=prev_page if isinstance(prev_page, str) and prev_page else None,
    )


async def walk_pages(
    fetch: Fetch,
    *,
    max: int,
    sort: Sorts | None = None,
    filters: Filters | None = None,
    page: str | None = None,
    request: str | None = None,
) -> AsyncIterator[Page]:
    """Yield every page from ``page`` (or the first) until one has no ``nextPage``.

    The query (``max``, ``sort``, ``filters``) is sent with every page: BILL's tokens may or may not
    carry it, and repeating it is harmless either way.

    Args:
        fetch: sends one list call with the given query parameters and returns the decoded JSON.
        max: records per page, 1..100.
        sort: sort keys.
        filters: conditions, all of which must hold.
        page: a token saved from an earlier walk to resume from.
        request: "METHOD /path" for error messages.

    Raises:
        ValidationError: if ``max`` is out of range (before anything is sent).
        BillAPIError: if BILL hands out a page token it handed out before in this walk.
    """
    list_params(max=max, sort=sort, filters=filters)  # validate before the first request
    seen: set[str] = set()
    token = page
    while True:
        if token is not None:
            if token in seen:
                raise BillAPIError(
                    "BILL returned a page token it had already returned in this listing; "
                    "stopping instead of looping",
                    code="repeated_page_token",
                    request=request,
                )
            seen.add(token)
        current = parse_page(
            await fetch(list_params(max=max, sort=sort, filters=filters, page=token)), request=request
        )
        yield current
        if current.next_page is None:
            return
        token = current.next_page
