"""The syncs billbridge runs, as data: one per catalog family, plus the Spend & Expense lists.

Each definition says where the list lives, under which model name its records are stored, whether
BILL can page it by ``updatedTime`` (sort ascending, ``updatedTime:gte:``) or it must be read whole
and diffed, and how often it runs by default. Sync names are Nango-style (kebab case, no path).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

from billbridge.bill.objects import FAMILIES, ObjectFamily
from billbridge.errors import ValidationError

Api = Literal["connect", "spend"]

HOURLY: Final = "every 1h"
DAILY: Final = "every 1d"


@dataclass(frozen=True, slots=True)
class SyncDefinition:
    """One sync: a BILL list kept as records of one model.

    Attributes:
        name: the sync name (``vendors``, ``chart-of-accounts``, ``spend-cards``).
        model: the model records are stored under (``Vendor``, ``SpendCard``).
        path: the list path (``/v3/vendors``, ``/v3/spend/cards``).
        api: ``connect`` (session auth) or ``spend`` (the connection's S&E API token).
        incremental: whether the list sorts and filters on ``updatedTime``; if not, every run
            reads it whole and marks what disappeared as deleted (unless ``filtered``).
        filtered: the list filters on ``updatedTime`` but cannot sort on it: a run after the first
            reads only what changed since the checkpoint (``updatedTime:gte:``), following BILL's
            page offsets (see ``cursor.settle`` for why that is safe).
        page_size: records per page (BILL's maximum for the list).
        frequency: how often it runs by default, as Nango writes it (``every 1h``).
    """

    name: str
    model: str
    path: str
    api: Api = "connect"
    incremental: bool = True
    filtered: bool = False
    page_size: int = 100
    frequency: str = HOURLY

    @property
    def keeps_checkpoint(self) -> bool:
        """Whether runs after the first read only what changed (sorted or only filtered by time)."""
        return self.incremental or self.filtered

    @property
    def needs_api_token(self) -> bool:
        """Whether the connection needs a Spend & Expense API token for this sync."""
        return self.api == "spend"


def sync_name(family: ObjectFamily) -> str:
    """The sync name of a catalog family: its last path part, BILL's ``recurringbills`` hyphenated."""
    tail = family.name.rsplit("/", 1)[-1]
    return {"recurringbills": "recurring-bills", "banks": "bank-accounts"}.get(tail, tail)


def _from_catalog(family: ObjectFamily) -> SyncDefinition:
    name = sync_name(family)
    return SyncDefinition(
        name=name,
        model=family.model_name,
        path=family.path,
        incremental=family.cursor_field == "updatedTime",
        frequency=DAILY if name == "roles" else HOURLY,
    )


# S&E lists sort on one field and not on updatedTime, so they are read whole and diffed; transactions
# come 50 to a page (https://developer.bill.com/docs/spend-expense-api). Transactions filter on
# updatedTime (gte, lte) since BILL's changelog of 2026-01-26, though they still sort only on amount,
# merchantName or occurredTime: they are read by filter alone.
_SPEND: Final = (
    SyncDefinition("spend-users", "SpendUser", "/v3/spend/users", api="spend", incremental=False),
    SyncDefinition("spend-budgets", "SpendBudget", "/v3/spend/budgets", api="spend", incremental=False),
    SyncDefinition("spend-cards", "SpendCard", "/v3/spend/cards", api="spend", incremental=False),
    SyncDefinition(
        "spend-transactions",
        "SpendTransaction",
        "/v3/spend/transactions",
        api="spend",
        incremental=False,
        filtered=True,
        page_size=50,
    ),
    SyncDefinition(
        "spend-reimbursements",
        "SpendReimbursement",
        "/v3/spend/reimbursements",
        api="spend",
        incremental=False,
    ),
)

SYNCS: Final = MappingProxyType(
    {d.name: d for d in (*(_from_catalog(f) for f in FAMILIES.values()), *_SPEND)}
)


def get_sync(name: str) -> SyncDefinition:
    """The sync called ``name``.

    Raises:
        ValidationError: naming the field ``syncs`` and the known names.
    """
    found = SYNCS.get(name)
    if found is None:
        raise ValidationError(f"unknown sync {name!r}; known syncs: {', '.join(SYNCS)}", field="syncs")
    return found


def syncs_for(*, has_api_token: bool) -> list[SyncDefinition]:
    """Every sync a connection can run: the S&E ones only with an API token."""
    return [d for d in SYNCS.values() if has_api_token or not d.needs_api_token]
