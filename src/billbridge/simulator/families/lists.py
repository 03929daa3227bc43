"""What each list can filter and sort on: one table, from BILL's ``docs/filterable-fields`` and
``docs/sortable-fields`` pages (and the changelogs that added fields since).

A family whose row says ``source=DOCS`` follows those pages exactly: every listed field and
operator is accepted, anything else is refused (BDC_1130 unknown filter field, BDC_1131 operator
not allowed, BDC_1129 unknown sort field). Where a page lists only one side (sorts or filters) or
does not list the family at all, the other side keeps the simulator's earlier choice and says so
with ``GUESSED``; the README's table of guessed behaviour repeats these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from billbridge.simulator.families.base import FieldRule, FieldType

DOCS = "docs"
GUESSED = "guessed"

EQ_NE = "eq ne"
SET = "eq ne in nin"
IDS = "eq ne in"  # the docs' operators on ``id`` and on classification ids
RANGE = "gt gte lt lte"
TIMES = {"createdTime": ("datetime", RANGE), "updatedTime": ("datetime", RANGE)}
STAMPS: dict[str, FieldType] = {"createdTime": "datetime", "updatedTime": "datetime"}
Filters = Mapping[str, tuple[str, str]]  # field -> (FieldType, operators)


@dataclass(frozen=True, slots=True)
class ListFields:
    """The filterable and sortable fields of one list, and where each side comes from.

    Attributes:
        filters: Field -> rule (type, allowed operators, where the value sits in a record).
        sorts: Field -> rule (type and path; no operators).
        filters_source: ``DOCS`` when ``docs/filterable-fields`` lists the family, else ``GUESSED``.
        sorts_source: ``DOCS`` when ``docs/sortable-fields`` lists the family, else ``GUESSED``.
    """

    filters: Mapping[str, FieldRule]
    sorts: Mapping[str, FieldRule]
    filters_source: str
    sorts_source: str


def _path(name: str, paths: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(paths.get(name, name).split("."))


def fields(
    filters: Filters,
    sorts: Mapping[str, FieldType],
    *,
    filters_source: str,
    sorts_source: str,
    paths: Mapping[str, str] | None = None,
) -> ListFields:
    """A row of the table; ``paths`` maps a field name to where its value sits when they differ."""
    where = paths or {}
    return ListFields(
        filters={
            name: FieldRule(cast(FieldType, kind), frozenset(ops.split()), _path(name, where))
            for name, (kind, ops) in filters.items()
        },
        sorts={name: FieldRule(kind, frozenset(), _path(name, where)) for name, kind in sorts.items()},
        filters_source=filters_source,
        sorts_source=sorts_source,
    )


def _line_classifications(lines: str, names: tuple[str, ...]) -> tuple[Filters, dict[str, str]]:
    """``classifications.X`` filters that match any line item's classification (docs: eq/ne/in)."""
    found = {f"classifications.{name}": ("str", IDS) for name in names}
    paths = {f"classifications.{name}": f"{lines}.[].classifications.{name}" for name in names}
    return found, paths


# Vendors and customers share one section of both pages.
_PARTY = {
    "id": ("str", IDS),
    "archived": ("bool", EQ_NE),
    "name": ("str", "eq sw"),
    "accountType": ("str", SET),
    "address.country": ("str", EQ_NE),  # vendors: changelog 2026-01-20
    "paymentStatus": ("str", SET),
    **TIMES,
}
_BILL_CLASSES, _BILL_PATHS = _line_classifications(
    "billLineItems", ("chartOfAccountId", "accountingClassId", "departmentId", "locationId", "itemId")
)
_INVOICE_CLASSES, _INVOICE_PATHS = _line_classifications(
    "invoiceLineItems", ("accountingClassId", "departmentId", "locationId", "itemId")
)
_CREDIT_SORTS: dict[str, FieldType] = {
    "archived": "bool", "creditDate": "date", "amount": "num", "appliedAmount": "num", **STAMPS
}  # fmt: skip
_CLASSIFICATION_SORTS: dict[str, FieldType] = {
    "archived": "bool",
    "name": "str",
    "description": "str",
    **STAMPS,
}
_CLASSIFICATION_FILTERS: Filters = {
    "id": ("str", SET), "archived": ("bool", EQ_NE), "name": ("str", "eq sw"), "parentId": ("str", SET),
    **TIMES,
}  # fmt: skip


def _credit_filters(party: str, *extra: tuple[str, tuple[str, str]]) -> Filters:
    return {"id": ("str", SET), "archived": ("bool", EQ_NE), party: ("str", "eq in"), **TIMES, **dict(extra)}


#: Every AP/AR list, by its path below ``/v3``.
LISTS: Mapping[str, ListFields] = {
    "vendors": fields(
        {**_PARTY, "billCurrency": ("str", SET)},
        {"archived": "bool", "name": "str", "shortName": "str", "email": "str", "phone": "str",
         "billCurrency": "str", **STAMPS},
        filters_source=DOCS, sorts_source=DOCS,
    ),
    "customers": fields(
        {**_PARTY, "invoiceCurrency": ("str", SET)},
        {"archived": "bool", "name": "str", "companyName": "str", "email": "str", "phone": "str",
         "fax": "str", "description": "str", "invoiceCurrency": "str", **STAMPS},
        filters_source=DOCS, sorts_source=DOCS,
        # Customers carry a billing address, not ``address``: the filter reads that one (guessed).
        paths={"address.country": "billingAddress.country"},
    ),
    "bills": fields(
        {"id": ("str", IDS), "archived": ("bool", EQ_NE), "vendorId": ("str", "eq in"),
         "dueDate": ("date", RANGE), "paymentStatus": ("str", IDS), **TIMES,
         "payFromChartOfAccountId": ("str", IDS), **_BILL_CLASSES},
        {"archived": "bool", "fundingAmount": "num", "exchangeRate": "num", "description": "str",
         "dueDate": "date", **STAMPS},
        filters_source=DOCS, sorts_source=DOCS, paths=_BILL_PATHS,
    ),
    "invoices": fields(
        # ``status``: changelog 2026-03-20 (its operators are not listed: the set ones are guessed).
        {"id": ("str", IDS), "archived": ("bool", EQ_NE), "customerId": ("str", "eq in"),
         "status": ("str", SET), **TIMES, "payToChartOfAccountId": ("str", IDS), **_INVOICE_CLASSES},
        {"archived": "bool", "invoiceNumber": "str", "invoiceDate": "date", "dueDate": "date",
         "totalAmount": "num", **STAMPS},
        filters_source=DOCS, sorts_source=DOCS, paths=_INVOICE_PATHS,
    ),
    "vendor-credits": fields(
        _credit_filters("vendorId", ("vendorCreditStatus", ("str", SET))), _CREDIT_SORTS,
        filters_source=GUESSED, sorts_source=DOCS,
    ),
    "credit-memos": fields(
        _credit_filters("customerId"), _CREDIT_SORTS, filters_source=GUESSED, sorts_source=DOCS
    ),
    # The sort page lists only ``archived`` (and ``description``, "Bills and Recurring bills").
    "recurringbills": fields(
        _credit_filters("vendorId"), {"archived": "bool", "description": "str"},
        filters_source=GUESSED, sorts_source=DOCS,
    ),
    "recurring-invoices": fields(
        _credit_filters("customerId"), {"archived": "bool", **STAMPS},
        filters_source=GUESSED, sorts_source=GUESSED,
    ),
    "payments": fields(
        {"id": ("str", SET), "vendorId": ("str", "eq in"), "billId": ("str", "eq in"),
         "status": ("str", SET), **TIMES, "processDate": ("date", RANGE)},
        {"description": "str", "processDate": "date", "amount": "num", "confirmationNumber": "str",
         "onlinePayment": "bool", **STAMPS, "disbursementStatus": "str"},
        filters_source=GUESSED, sorts_source=DOCS,
    ),
    "receivable-payments": fields(
        {"id": ("str", SET), "customerId": ("str", "eq in"), **TIMES},
        {"amount": "num", **STAMPS},
        filters_source=GUESSED, sorts_source=DOCS,
    ),
    "funding-accounts/banks": fields(
        {"id": ("str", SET), "archived": ("bool", EQ_NE), "type": ("str", SET), **TIMES},
        {"archived": "bool", "nameOnAccount": "str", "bankName": "str", "accessToAdmins": "bool", **STAMPS},
        filters_source=GUESSED, sorts_source=DOCS,
    ),
    "roles": fields(
        {"id": ("str", SET), "type": ("str", SET)},
        {"description": "str", **STAMPS},
        filters_source=GUESSED, sorts_source=DOCS,
    ),
    "users": fields(
        {"id": ("str", SET), "archived": ("bool", EQ_NE), "email": ("str", SET),
         "firstName": ("str", EQ_NE), "lastName": ("str", EQ_NE), **TIMES},
        {"archived": "bool", "firstName": "str", "lastName": "str", **STAMPS},
        filters_source=GUESSED, sorts_source=DOCS,
    ),
    **{
        f"classifications/{kind}": fields(
            _CLASSIFICATION_FILTERS,
            {**_CLASSIFICATION_SORTS, "firstName": "str", "lastName": "str"}
            if kind == "employees"
            else _CLASSIFICATION_SORTS,
            filters_source=GUESSED, sorts_source=DOCS,
        )
        for kind in ("chart-of-accounts", "accounting-classes", "departments", "employees", "items",
                     "jobs", "locations")
    },
}  # fmt: skip

#: Spend & Expense lists, by their path below ``/v3/spend`` (one sort field at a time).
SPEND_LISTS: Mapping[str, ListFields] = {
    "users": fields(
        {"id": ("str", SET), "role": ("str", SET), "retired": ("bool", EQ_NE), **TIMES},
        {"firstName": "str", "lastName": "str", "createdTime": "datetime"},
        filters_source=GUESSED, sorts_source=GUESSED,
    ),
    "budgets": fields(
        {"id": ("str", SET), "retired": ("bool", EQ_NE), **TIMES},
        {"name": "str", "createdTime": "datetime"},
        filters_source=GUESSED, sorts_source=GUESSED,
    ),
    "cards": fields(
        {"id": ("str", SET), "userId": ("str", SET), "budgetId": ("str", SET), "status": ("str", SET),
         **TIMES},
        {"name": "str", "createdTime": "datetime"},
        filters_source=GUESSED, sorts_source=GUESSED,
    ),
    # listtransactions; updatedTime and authorizedTime: changelog 2026-01-26.
    "transactions": fields(
        {"cardId": ("str", "eq"), "syncStatus": ("str", SET),
         "updatedTime": ("datetime", "gte lte"), "authorizedTime": ("datetime", "gte lte")},
        {"amount": "num", "merchantName": "str", "occurredTime": "datetime"},
        filters_source=DOCS, sorts_source=DOCS,
    ),
    # bill-api: a budget's members filter on ``retired``; the rest of this row is guessed.
    "budgets/members": fields(
        {"retired": ("bool", EQ_NE)}, {"firstName": "str", "lastName": "str"},
        filters_source=GUESSED, sorts_source=GUESSED,
    ),
    "reimbursements": fields(
        {"id": ("str", SET), "userId": ("str", SET), "status": ("str", SET), **TIMES},
        {"amount": "num", "occurredTime": "datetime"},
        filters_source=GUESSED, sorts_source=GUESSED,
    ),
    "custom-fields": fields(
        {"id": ("str", SET), **TIMES}, {"name": "str", "createdTime": "datetime"},
        filters_source=GUESSED, sorts_source=GUESSED,
    ),
}  # fmt: skip
