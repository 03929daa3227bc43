"""The public surface of billbridge.bill is its __all__, and nothing drifts from it."""

from __future__ import annotations

import types

import billbridge.bill as bill

PUBLIC = {
    "AiohttpTransport", "ApiTokenAuth", "Auth", "AuthFlow", "Bill", "BillClient", "BillModel",
    "BillObject", "Budget", "BudgetSpentError", "CODES", "CodeInfo", "Customer", "Environment",
    "FAMILIES", "Filter", "HttpxTransport", "Invoice", "LOGINS_PER_HOUR", "Limits", "LoginResult",
    "MAX_IN_FLIGHT", "OPERATORS", "ObjectFamily", "PRODUCTION", "Page", "Priority",
    "REQUESTS_PER_HOUR", "RawResponse", "RequestLimits", "RetryPolicy", "Role", "SANDBOX",
    "SessionAuth", "Sort", "Transport", "User", "Vendor", "code_info", "environment", "family",
    "family_of_id", "format_datetime", "is_replay_safe", "model_for", "needs_relink", "parse_error",
}  # fmt: skip


def test_all_is_the_agreed_surface() -> None:
    assert set(bill.__all__) == PUBLIC
    assert len(bill.__all__) == len(PUBLIC)


def test_every_export_exists_and_every_public_name_is_exported() -> None:
    for name in bill.__all__:
        assert hasattr(bill, name), name
    public = {
        name
        for name, value in vars(bill).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }
    assert public == set(bill.__all__)
