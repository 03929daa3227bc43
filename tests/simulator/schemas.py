"""JSON schemas of BILL's v3 answers, written from BILL's documentation and recorded answers.

Sources: the field tables of developer.bill.com's reference pages (login, getsessioninfo,
listusers, listroles, listvendors, listbills, listcustomers, listinvoices, listpayments, ...), the
error format of https://developer.bill.com/docs/api-rate-limits, and the recorded sandbox answers
in ``recorded/``. Objects keep ``additionalProperties`` open: BILL adds fields over time, and a
client must not break on them; names, nesting, ID shapes and timestamp formats are checked.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

TIMESTAMP: Schema = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$"}
DATE: Schema = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\d$"}
MONEY: Schema = {"type": "number"}
TEXT: Schema = {"type": "string"}
OPTIONAL_TEXT: Schema = {"type": ["string", "null"]}
BOOL: Schema = {"type": "boolean"}


def bill_id(prefix: str) -> Schema:
    """A 20-character BILL ID with a 3-character type prefix."""
    return {"type": "string", "pattern": f"^{prefix}[0-9A-Za-z]{{17}}$"}


def obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    """An object with these required (and optional) properties; others are allowed."""
    return {
        "type": "object",
        "required": sorted(required),
        "properties": {**required, **(optional or {})},
    }


def listing(item: Schema) -> Schema:
    """BILL's list envelope: ``results`` plus opaque page tokens, nothing else."""
    return {
        "type": "object",
        "required": ["results"],
        "properties": {
            "results": {"type": "array", "items": item},
            "nextPage": {"type": "string", "minLength": 1},
            "prevPage": {"type": "string", "minLength": 1},
        },
        "additionalProperties": False,
    }


ERRORS: Schema = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["timestamp", "code", "severity", "category", "message"],
        "properties": {
            "timestamp": TIMESTAMP,
            "code": {"type": "string", "pattern": r"^BDC_\d{4}$"},
            "severity": {"enum": ["ERROR", "WARNING", "INFORMATION"]},
            "category": {"enum": ["REQUEST", "APPLICATION", "SERVER", "DOWNSTREAM"]},
            "message": TEXT,
        },
    },
}

LOGIN: Schema = obj(
    {
        "sessionId": {"type": "string", "minLength": 1},
        "organizationId": bill_id("008"),
        "userId": bill_id("006"),
        "trusted": BOOL,
    }
)
SESSION_INFO: Schema = obj(
    {"organizationId": bill_id("008"), "userId": bill_id("006"), "mfaStatus": TEXT},
    {"mfaBypass": BOOL},
)
STAMPS = {"createdTime": TIMESTAMP, "updatedTime": TIMESTAMP}
ARCHIVED = {"archived": BOOL}
ADDRESS: Schema = obj(
    {},
    {
        "line1": TEXT,
        "line2": TEXT,
        "city": TEXT,
        "stateOrProvince": TEXT,
        "zipOrPostalCode": TEXT,
        "country": TEXT,
    },
)
ROLE: Schema = obj({"id": bill_id("0po"), "type": TEXT, **STAMPS}, {"description": TEXT})
USER: Schema = obj(
    {
        "id": bill_id("006"),
        **ARCHIVED,
        "firstName": TEXT,
        "lastName": TEXT,
        "email": TEXT,
        "role": obj({"id": bill_id("0po"), "type": TEXT}, {"description": TEXT}),
        **STAMPS,
    }
)
VENDOR: Schema = obj(
    {"id": bill_id("009"), **ARCHIVED, "name": TEXT, **STAMPS},
    {
        "shortName": TEXT,
        "accountType": {"enum": ["BUSINESS", "PERSON", "NONE"]},
        "email": TEXT,
        "phone": TEXT,
        "address": ADDRESS,
        "billCurrency": TEXT,
        "paymentInformation": obj({}, {"payeeName": TEXT}),
        "additionalInfo": {"type": "object"},
        "networkStatus": TEXT,
    },
)
BILL_LINE_ITEM: Schema = obj(
    {"amount": MONEY},
    {
        "description": TEXT,
        "classifications": obj({}, {"chartOfAccountId": bill_id("0ca"), "departmentId": bill_id("0de")}),
    },
)
BILL: Schema = obj(
    {
        "id": bill_id("00n"),
        **ARCHIVED,
        "vendorId": bill_id("009"),
        "dueDate": DATE,
        "amount": MONEY,
        **STAMPS,
    },
    {
        "vendorName": TEXT,
        "invoice": obj({}, {"invoiceNumber": TEXT, "invoiceDate": DATE}),
        "dueAmount": MONEY,
        "paymentStatus": {
            "enum": ["UNPAID", "SCHEDULED", "IN_PROCESS", "PARTIALLY_PAID", "PAID", "UNDEFINED"]
        },
        "billLineItems": {"type": "array", "items": BILL_LINE_ITEM},
        "payFromChartOfAccountId": bill_id("0ca"),
        "vendorCredits": {"type": "array"},
    },
)
CUSTOMER: Schema = obj(
    {"id": bill_id("0cu"), **ARCHIVED, "name": TEXT, **STAMPS},
    {
        "email": TEXT,
        "companyName": TEXT,
        "accountType": TEXT,
        "phone": TEXT,
        "invoiceCurrency": TEXT,
        "billingAddress": ADDRESS,
        "shippingAddress": ADDRESS,
        "contact": {"type": "object"},
    },
)
INVOICE: Schema = obj(
    {
        "id": bill_id("00e"),
        **ARCHIVED,
        "invoiceNumber": TEXT,
        "invoiceDate": DATE,
        "dueDate": DATE,
        "customerId": bill_id("0cu"),
        "totalAmount": MONEY,
        **STAMPS,
    },
    {
        "invoiceLineItems": {
            "type": "array",
            "items": obj({}, {"quantity": {"type": "number"}, "price": MONEY, "description": TEXT}),
        },
        "dueAmount": MONEY,
        "payToChartOfAccountId": bill_id("0ca"),
    },
)
PAYMENT: Schema = obj(
    {"id": bill_id("stp"), "amount": MONEY, "processDate": DATE, **STAMPS},
    {
        "vendorId": bill_id("009"),
        "billId": {"anyOf": [bill_id("00n"), {"type": "null"}]},
        "fundingAccount": obj({"type": {"enum": ["BANK_ACCOUNT", "CARD_ACCOUNT", "WALLET", "AP_CARD"]}}),
        "confirmationNumber": TEXT,
        "onlinePayment": BOOL,
        "disbursementStatus": TEXT,
        "transactionNumber": OPTIONAL_TEXT,
    },
)
CLASSIFICATION_PREFIXES = {
    "chart-of-accounts": "0ca",
    "accounting-classes": "cls",
    "departments": "0de",
    "employees": "emp",
    "items": "0ii",
    "jobs": "job",
    "locations": "loc",
}


def classification(prefix: str) -> Schema:
    """A classification object (``id, name, description, parentId, archived``)."""
    return obj(
        {"id": bill_id(prefix), **ARCHIVED, "name": TEXT, **STAMPS},
        {"description": TEXT, "parentId": {"anyOf": [bill_id(prefix), {"type": "null"}]}},
    )


#: Object schema by family path (list items and single answers alike).
OBJECTS: dict[str, Schema] = {
    "users": USER,
    "roles": ROLE,
    "vendors": VENDOR,
    "bills": BILL,
    "customers": CUSTOMER,
    "invoices": INVOICE,
    "payments": PAYMENT,
    "vendor-credits": obj(
        {"id": bill_id("vcr"), **ARCHIVED, "vendorId": bill_id("009"), "amount": MONEY, **STAMPS}
    ),
    "recurringbills": obj({"id": bill_id("btp"), **ARCHIVED, "vendorId": bill_id("009"), **STAMPS}),
    "receivable-payments": obj({"id": bill_id("0rp"), "amount": MONEY, **STAMPS}),
    "credit-memos": obj({"id": bill_id("ccr"), **ARCHIVED, "amount": MONEY, **STAMPS}, {"creditDate": DATE}),
    "recurring-invoices": obj({"id": bill_id("rit"), **ARCHIVED, "customerId": bill_id("0cu"), **STAMPS}),
    "funding-accounts/banks": obj(
        {"id": bill_id("bac"), **ARCHIVED, **STAMPS},
        {
            "nameOnAccount": TEXT,
            "type": TEXT,
            "ownerType": TEXT,
            "bankName": TEXT,
            "routingNumber": TEXT,
            "accountNumber": TEXT,
            "accessToAdmins": BOOL,
        },
    ),
    **{f"classifications/{kind}": classification(prefix) for kind, prefix in CLASSIFICATION_PREFIXES.items()},
}
