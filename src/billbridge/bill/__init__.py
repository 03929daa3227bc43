"""The typed async client of BILL's v3 API (AP/AR, Spend & Expense, Connect Events).

    client = BillClient(environment("sandbox", "http://127.0.0.1:8111"))
    login = await client.login(username=..., password=..., organization_id=..., dev_key=...)
    auth = login.auth(dev_key)
    async for vendor in client.iterate("vendors", auth=auth, filters=[Filter("archived", "eq", False)]):
        ...

Errors are the classes of ``billbridge.errors``, chosen by BILL's ``BDC_`` code (``CODES``).
"""

from __future__ import annotations

from billbridge.bill.answers import parse_error
from billbridge.bill.auth import ApiTokenAuth, Auth, AuthFlow, LoginResult, SessionAuth
from billbridge.bill.client import BillClient
from billbridge.bill.codes import CODES, CodeInfo, code_info, needs_relink
from billbridge.bill.environments import PRODUCTION, SANDBOX, Environment, environment
from billbridge.bill.limits import (
    LOGINS_PER_HOUR,
    MAX_IN_FLIGHT,
    REQUESTS_PER_HOUR,
    Budget,
    BudgetSpentError,
    Limits,
    Priority,
    RequestLimits,
)
from billbridge.bill.models import (
    Bill,
    BillModel,
    BillObject,
    Customer,
    Invoice,
    Role,
    User,
    Vendor,
    model_for,
)
from billbridge.bill.objects import FAMILIES, ObjectFamily, family, family_of_id
from billbridge.bill.pagination import Page
from billbridge.bill.query import OPERATORS, Filter, Sort, format_datetime
from billbridge.bill.retry import RetryPolicy, is_replay_safe
from billbridge.bill.transport import AiohttpTransport, HttpxTransport, RawResponse, Transport

__all__ = [
    "CODES",
    "FAMILIES",
    "LOGINS_PER_HOUR",
    "MAX_IN_FLIGHT",
    "OPERATORS",
    "PRODUCTION",
    "REQUESTS_PER_HOUR",
    "SANDBOX",
    "AiohttpTransport",
    "ApiTokenAuth",
    "Auth",
    "AuthFlow",
    "Bill",
    "BillClient",
    "BillModel",
    "BillObject",
    "Budget",
    "BudgetSpentError",
    "CodeInfo",
    "Customer",
    "Environment",
    "Filter",
    "HttpxTransport",
    "Invoice",
    "Limits",
    "LoginResult",
    "ObjectFamily",
    "Page",
    "Priority",
    "RawResponse",
    "RequestLimits",
    "RetryPolicy",
    "Role",
    "SessionAuth",
    "Sort",
    "Transport",
    "User",
    "Vendor",
    "code_info",
    "environment",
    "family",
    "family_of_id",
    "format_datetime",
    "is_replay_safe",
    "model_for",
    "needs_relink",
    "parse_error",
]
