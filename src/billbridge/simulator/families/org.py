"""Organization-level families: users and roles."""

from __future__ import annotations

from billbridge.simulator.errors import SimError
from billbridge.simulator.families.base import FamilySpec, GenContext, Record, Write
from billbridge.simulator.families.lists import LISTS
from billbridge.simulator.families.values import person

ROLE_TYPES = ("ACCOUNTANT", "ADMINISTRATOR", "APPROVER", "PAYER", "CLERK", "AUDITOR")


def role_ref(ctx: GenContext, role_type: str) -> Record:
    """The ``role`` object a user carries."""
    return {"id": ctx.id("0po", ROLE_TYPES.index(role_type)), "type": role_type}


def _role(ctx: GenContext, serial: int) -> Record:
    stamp = ctx.stamps(ctx.rng("roles", 0), 0)[0]
    return {
        "id": ctx.id("0po", serial),
        "type": ROLE_TYPES[serial],
        "createdTime": stamp,
        "updatedTime": stamp,
    }


def _user(ctx: GenContext, serial: int) -> Record:
    rng = ctx.rng("users", serial)
    created, updated = ctx.stamps(rng, serial)
    first, last = person(rng)
    return {
        "id": ctx.id("006", serial),
        "archived": rng.random() < 0.05,
        "firstName": first,
        "lastName": last,
        "email": f"{first.lower()}.{last.lower()}-{serial}@example.com",
        "role": role_ref(ctx, ROLE_TYPES[rng.randrange(len(ROLE_TYPES))]),
        "createdTime": created,
        "updatedTime": updated,
    }


def _user_write(write: Write) -> None:
    ctx, record = write.ctx, write.record
    role_id = write.body.get("roleId")
    if role_id is None:
        return
    for role_type in ROLE_TYPES:
        if ctx.id("0po", ROLE_TYPES.index(role_type)) == role_id:
            record["role"] = {"id": role_id, "type": role_type}
            return
    raise SimError("BDC_1129", f"Invalid roleId: {role_id}")


USERS = FamilySpec(
    path="users",
    prefix="006",
    generate=_user,
    filters=LISTS["users"].filters,
    sorts=LISTS["users"].sorts,
    required=("firstName", "lastName", "email", "roleId"),
    inputs=frozenset({"roleId", "acceptTermsOfService"}),
    on_write=_user_write,
)

ROLES = FamilySpec(
    path="roles",
    prefix="0po",
    generate=_role,
    filters=LISTS["roles"].filters,
    sorts=LISTS["roles"].sorts,
    creatable=False,
    archivable=False,
    fixed_count=len(ROLE_TYPES),
)
