"""``GET /records``: a connection's synced records of one model, by cursor (nango-compat §8).

The query is checked as Nango's ``getRecords`` checks it (every key known, each value's shape),
then the page comes from the store as JSON bytes and goes out as is.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from fastapi import APIRouter, Request
from starlette.responses import Response

from billbridge.errors import ValidationError
from billbridge.store.record_pages import DEFAULT_LIMIT, MAX_LIMIT
from billbridge.web.deps import SECRET_KEY_GUARDS, RuntimeDep
from billbridge.web.errors import ApiError, issue
from billbridge.web.openapi import INTEGRATION_KEYS, errors, header, ok, operation, query
from billbridge.web.responses import RecordsPage

router = APIRouter(tags=["records"], dependencies=SECRET_KEY_GUARDS)

_MODEL: Final = re.compile(r"^[A-Z][a-zA-Z0-9_-]+$")
_VARIANT: Final = re.compile(r"^[a-zA-Z0-9_-]+$")
_CONNECTION_ID: Final = re.compile(r"""^[a-zA-Z0-9,.;:=+~\[\]|@${}"'\\/_ -]+$""")
_PROVIDER_CONFIG_KEY: Final = re.compile(r"^[a-zA-Z0-9~:.@ _-]+$")
_SINGLE: Final = frozenset({"model", "variant", "delta", "modified_after", "limit", "filter", "cursor"})
_WHOLE: Final = re.compile(r"^[0-9]{1,6}$")  # ASCII digits only: int() also reads other scripts' digits
_ACTIONS: Final = frozenset({"added", "updated", "deleted"})
# Nango serves changes of the last 12 months only; older modified_after values are refused.
LOOKBACK: Final = timedelta(days=365)
MAX_IDS: Final = 100


_PARAMETERS = [
    query(
        "model",
        "The model (e.g. Vendor).",
        required=True,
        schema={"type": "string", "pattern": _MODEL.pattern},
    ),
    query(
        "variant",
        "The sync variant (base when omitted).",
        schema={"type": "string", "pattern": _VARIANT.pattern},
    ),
    query("modified_after", "Changes after this ISO 8601 date-time with a zone, within 12 months."),
    query("delta", "Deprecated name of modified_after."),
    query(
        "limit",
        f"Records per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}).",
        schema={"type": "string", "pattern": "^[0-9]+$"},
    ),
    query("filter", "Comma-separated actions: added, updated, deleted."),
    query(
        "cursor",
        "next_cursor of the previous page.",
        schema={"type": "string", "minLength": 1, "maxLength": 1000},
    ),
    {
        **query(
            "ids",
            "Only these record ids (repeat the parameter, at most 100).",
            schema={
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": 256},
                "maxItems": MAX_IDS,
            },
        ),
        "style": "form",
        "explode": True,
    },
    header("Connection-Id", "The connection's id.", pattern=_CONNECTION_ID.pattern, maxLength=255),
    header("Provider-Config-Key", "The connection's integration.", enum=list(INTEGRATION_KEYS)),
]


@router.get(
    "/records",
    response_model=None,
    responses={**ok(RecordsPage, "One page of records, oldest change first."), **errors(400, 401, 415)},
    openapi_extra=operation(parameters=_PARAMETERS),
)
@router.get("/records/", include_in_schema=False)
async def list_records(request: Request, services: RuntimeDep) -> Response:
    """One page of records, oldest change first: ``{records: [...], next_cursor}``."""
    query = _RecordsQuery.parse(request)
    connection_id, key = _headers(request)
    conn = await services.connections.get(connection_id, key)
    if conn is None:
        raise ApiError(
            400,
            "unknown_connection",
            "Provided ConnectionId and ProviderConfigKey does not match a valid connection",
        )
    try:
        page = await services.records.list(
            conn.pk,
            query.model,
            cursor=query.cursor,
            limit=query.limit,
            modified_after=query.modified_after,
            actions=query.actions,
            ids=query.ids,
        )
    except ValidationError as exc:
        field = exc.field or "query"
        raise ApiError(
            400, "invalid_query_params", exc.message, errors=[issue([field], exc.message, "invalid_string")]
        ) from None
    return Response(page.to_json(), media_type="application/json")


class _RecordsQuery:
    """The checked query string of ``GET /records``."""

    def __init__(self) -> None:
        self.model = ""
        self.cursor: str | None = None
        self.limit = DEFAULT_LIMIT
        self.modified_after: datetime | None = None
        self.actions: frozenset[str] | None = None
        self.ids: list[str] | None = None

    @classmethod
    def parse(cls, request: Request) -> _RecordsQuery:
        problems: list[dict[str, Any]] = []
        values: dict[str, str] = {}
        ids: list[str] = []
        for key, value in request.query_params.multi_items():
            if key == "ids":
                ids.append(value)
            elif key not in _SINGLE:
                problems.append(
                    issue([key], f"Unknown query parameter {key!r}; remove it.", "unrecognized_keys")
                )
            elif key in values:
                problems.append(issue([key], f"Query parameter {key!r} is given twice.", "invalid_type"))
            else:
                values[key] = value
        parsed = cls()
        parsed._read(values, ids, problems)
        if problems:
            raise ApiError(400, "invalid_query_params", _summary(problems), errors=problems)
        return parsed

    def _read(self, values: dict[str, str], ids: list[str], problems: list[dict[str, Any]]) -> None:
        def bad(field: str, message: str) -> None:
            problems.append(issue([field], message))

        model = values.get("model")
        if model is None:
            problems.append(issue(["model"], "model is required (e.g. model=Vendor).", "invalid_type"))
        elif len(model) > 255 or not _MODEL.match(model):
            bad("model", "model must start with a capital letter, then letters, digits, '_' or '-'.")
        variant = values.get("variant")
        if variant is not None and (len(variant) > 255 or not _VARIANT.match(variant)):
            bad("variant", "variant may hold letters, digits, '_' and '-' only.")
        elif model is not None:
            # Records of a variant are kept under "<model>::<variant>", as Nango keeps them.
            self.model = f"{model}::{variant}" if variant and variant != "base" else model
        for field in ("delta", "modified_after"):
            if field in values:
                moment = _moment(values[field])
                if moment is None:
                    bad(field, f"{field} must be an ISO 8601 date-time, e.g. 2025-03-01T12:00:00Z.")
                elif moment < datetime.now(UTC) - LOOKBACK:
                    bad(field, f"{field} must be within the last 12 months.")
                else:
                    self.modified_after = self.modified_after or moment
        if "limit" in values:
            raw = values["limit"]
            if not _WHOLE.match(raw) or not 1 <= int(raw) <= MAX_LIMIT:
                bad("limit", f"limit must be a whole number from 1 to {MAX_LIMIT}.")
            else:
                self.limit = int(raw)
        if "filter" in values:
            actions = {part.lower() for part in values["filter"].split(",")}
            if not actions or not actions <= _ACTIONS:
                bad("filter", "filter must be a comma-separated list of added, updated and deleted.")
            else:
                self.actions = frozenset(action.upper() for action in actions)
        if "cursor" in values:
            cursor = values["cursor"]
            if not 1 <= len(cursor) <= 1000:
                bad("cursor", "cursor must be 1 to 1000 characters: pass next_cursor unchanged.")
            self.cursor = cursor
        if ids:
            if len(ids) > MAX_IDS:
                bad("ids", f"ids may be given at most {MAX_IDS} times.")
            elif any(not 1 <= len(value) <= 256 for value in ids):
                bad("ids", "each id must be 1 to 256 characters.")
            self.ids = ids


def _moment(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    # A date-time needs a time and, as in Nango, an explicit zone ("Z" or an offset).
    if "T" not in text.upper() or moment.tzinfo is None:
        return None
    return moment.astimezone(UTC)


def _headers(request: Request) -> tuple[str, str]:
    """``Connection-Id`` and ``Provider-Config-Key``, both required (400 ``invalid_headers``)."""
    problems = []
    values = []
    for name, shape in (("connection-id", _CONNECTION_ID), ("provider-config-key", _PROVIDER_CONFIG_KEY)):
        value = request.headers.get(name)
        if value is None or value == "":
            problems.append(issue([name], f"The {name.title()} header is required.", "invalid_type"))
        elif len(value) > 255 or not shape.match(value):
            problems.append(issue([name], f"The {name.title()} header has characters Nango does not allow."))
        values.append(value or "")
    if problems:
        raise ApiError(400, "invalid_headers", _summary(problems), errors=problems)
    return values[0], values[1]


def _summary(problems: list[dict[str, Any]]) -> str:
    return " ".join(str(problem["message"]) for problem in problems[:3])
