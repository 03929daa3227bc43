"""The simulator's own catalog of BILL object families (independent of the client's)."""

from __future__ import annotations

from billbridge.simulator.families.ap import BILLS, RECURRING_BILLS, VENDOR_CREDITS, VENDORS
from billbridge.simulator.families.ar import (
    CREDIT_MEMOS,
    CUSTOMERS,
    INVOICES,
    RECEIVABLE_PAYMENTS,
    RECURRING_INVOICES,
)
from billbridge.simulator.families.base import FamilySpec, FieldRule, GenContext, Record
from billbridge.simulator.families.classifications import CLASSIFICATIONS
from billbridge.simulator.families.funding import BANK_ACCOUNTS, PAYMENTS
from billbridge.simulator.families.org import ROLES, USERS
from billbridge.simulator.families.spend import (
    SPEND_BUDGETS,
    SPEND_CARDS,
    SPEND_CUSTOM_FIELDS,
    SPEND_REIMBURSEMENTS,
    SPEND_TRANSACTIONS,
    SPEND_USERS,
)


def _by_path(*specs: FamilySpec) -> dict[str, FamilySpec]:
    return {spec.path: spec for spec in specs}


#: AP/AR families by their path under ``/v3``.
CATALOG = _by_path(
    USERS,
    ROLES,
    VENDORS,
    BILLS,
    PAYMENTS,
    VENDOR_CREDITS,
    RECURRING_BILLS,
    CUSTOMERS,
    INVOICES,
    RECEIVABLE_PAYMENTS,
    CREDIT_MEMOS,
    RECURRING_INVOICES,
    BANK_ACCOUNTS,
    *CLASSIFICATIONS,
)

#: Spend & Expense families by their path under ``/v3/spend``.
SPEND_CATALOG = _by_path(
    SPEND_USERS, SPEND_BUDGETS, SPEND_CARDS, SPEND_TRANSACTIONS, SPEND_REIMBURSEMENTS, SPEND_CUSTOM_FIELDS
)

__all__ = ["CATALOG", "SPEND_CATALOG", "FamilySpec", "FieldRule", "GenContext", "Record"]
