"""BILL's error answers: a JSON list of ``{timestamp, code, severity, category, message}``.

HTTP statuses are documented only for a few codes (1109: 401, 1121: 404, 1361: 403); the others
are this simulator's choice, listed in ``CODES`` and in the README.
"""

from __future__ import annotations

from typing import Final, NamedTuple

import orjson


class CodeInfo(NamedTuple):
    """How the simulator answers one BDC code."""

    status: int
    category: str
    message: str


CODES: Final[dict[str, CodeInfo]] = {
    "BDC_1001": CodeInfo(500, "SERVER", "System error occurred."),
    "BDC_1101": CodeInfo(401, "REQUEST", "User name and/or password do not match our records."),
    "BDC_1102": CodeInfo(401, "REQUEST", "Developer key is invalid."),
    "BDC_1108": CodeInfo(400, "REQUEST", "Missing required parameter."),
    "BDC_1109": CodeInfo(401, "DOWNSTREAM", "Session is invalid. Please log in."),
    "BDC_1110": CodeInfo(403, "REQUEST", "Login is locked. Please contact your administrator."),
    "BDC_1120": CodeInfo(404, "REQUEST", "No data found."),
    "BDC_1121": CodeInfo(404, "REQUEST", "API not supported."),
    "BDC_1122": CodeInfo(400, "REQUEST", "Unable to parse the JSON request body."),
    "BDC_1123": CodeInfo(400, "REQUEST", "Invalid organization id."),
    "BDC_1129": CodeInfo(400, "REQUEST", "Invalid parameter value."),
    "BDC_1130": CodeInfo(400, "REQUEST", "Invalid list filter field."),
    "BDC_1131": CodeInfo(400, "REQUEST", "Invalid list filter operator."),
    "BDC_1144": CodeInfo(400, "DOWNSTREAM", "Max number of allowed requests per hour reached: 20000."),
    "BDC_1322": CodeInfo(400, "DOWNSTREAM", "Max number of concurrent requests per organization reached."),
    "BDC_1356": CodeInfo(400, "REQUEST", "The MFA challenge has expired."),
    "BDC_1358": CodeInfo(400, "REQUEST", "Too many MFA attempts."),
    "BDC_1361": CodeInfo(403, "REQUEST", "This operation requires an MFA-trusted session."),
    "BDC_1374": CodeInfo(400, "REQUEST", "The MFA token is invalid or has expired."),
}


class SimError(Exception):
    """An error the simulator answers with BILL's error body.

    Args:
        code: The ``BDC_nnnn`` code (must be in ``CODES``).
        message: Overrides the code's default message.
        status: Overrides the code's default HTTP status.
    """

    def __init__(self, code: str, message: str | None = None, *, status: int | None = None) -> None:
        info = CODES[code]
        self.code = code
        self.message = message if message is not None else info.message
        self.status = status if status is not None else info.status
        self.category = info.category
        super().__init__(f"{code}: {self.message}")


def error_body(error: SimError, *, timestamp: str) -> bytes:
    """Serialise ``error`` as BILL does: a list holding one error object."""
    return orjson.dumps(
        [
            {
                "timestamp": timestamp,
                "code": error.code,
                "severity": "ERROR",
                "category": error.category,
                "message": error.message,
            }
        ]
    )
