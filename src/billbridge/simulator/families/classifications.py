"""Classification families (chart of accounts, classes, departments, employees, items, jobs, locations)."""

from __future__ import annotations

from collections.abc import Callable

from billbridge.simulator.families.base import FamilySpec, GenContext, Record
from billbridge.simulator.families.lists import LISTS
from billbridge.simulator.families.values import person

_NAMES = {
    "chart-of-accounts": ("Office Supplies", "Travel", "Rent", "Utilities", "Software", "Payroll", "Revenue"),
    "accounting-classes": ("Retail", "Wholesale", "Online", "Services"),
    "departments": ("Finance", "Engineering", "Sales", "Operations", "Marketing"),
    "items": ("Widget", "Gadget", "Service hour", "License", "Support plan"),
    "jobs": ("Website redesign", "Office move", "Audit", "Migration"),
    "locations": ("Headquarters", "Warehouse", "Store", "Remote"),
}
_ACCOUNT_TYPES = ("EXPENSE", "INCOME", "ASSET", "LIABILITY", "BANK", "COST_OF_GOODS_SOLD")


def _generator(kind: str, prefix: str) -> Callable[[GenContext, int], Record]:
    def generate(ctx: GenContext, serial: int) -> Record:
        rng = ctx.rng(kind, serial)
        created, updated = ctx.stamps(rng, serial)
        if kind == "employees":
            first, last = person(rng)
            name = f"{first} {last} {serial + 1}"
        else:
            name = f"{rng.choice(_NAMES[kind])} {serial + 1}"
        record: Record = {
            "id": ctx.id(prefix, serial),
            "archived": rng.random() < 0.05,
            "name": name,
            "description": "",
            "parentId": ctx.id(prefix, rng.randrange(serial)) if serial and rng.random() < 0.2 else None,
        }
        if kind == "chart-of-accounts":
            record["accountType"] = rng.choice(_ACCOUNT_TYPES)
            record["accountNumber"] = f"{4000 + serial}"
        if kind == "employees":
            record["firstName"], record["lastName"] = name.split()[0], name.split()[1]
        if kind == "items":
            record["price"] = round(rng.uniform(5, 500), 2)
            record["type"] = rng.choice(("SERVICE", "PRODUCT"))
        record["createdTime"] = created
        record["updatedTime"] = updated
        return record

    return generate


def _family(kind: str, prefix: str) -> FamilySpec:
    return FamilySpec(
        path=f"classifications/{kind}",
        prefix=prefix,
        generate=_generator(kind, prefix),
        filters=LISTS[f"classifications/{kind}"].filters,
        sorts=LISTS[f"classifications/{kind}"].sorts,
        required=("name",),
    )


CLASSIFICATIONS = tuple(
    _family(kind, prefix)
    for kind, prefix in (
        ("chart-of-accounts", "0ca"),
        ("accounting-classes", "cls"),
        ("departments", "0de"),
        ("employees", "emp"),
        ("items", "0ii"),
        ("jobs", "job"),
        ("locations", "loc"),
    )
)
