"""The world: organizations, users, developer keys and S&E API tokens, fixed by seed and environment."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from billbridge.simulator.config import SimConfig
from billbridge.simulator.ids import object_id, secret, text_hash

_COMPANIES = (
    "Northwind Traders",
    "Blue Harbor Foods",
    "Cedar & Pine Studio",
    "Summit Ridge Supply",
    "Lumen Dental Group",
    "Granite Peak Builders",
    "Harborview Analytics",
    "Maple Street Bakery",
    "Ironwood Logistics",
    "Silverline Media",
    "Redwood Health",
    "Copperfield Legal",
)
_PEOPLE = (
    ("Avery", "Lopez"),
    ("Jordan", "Kim"),
    ("Riley", "Nguyen"),
    ("Morgan", "Patel"),
    ("Casey", "Okafor"),
    ("Taylor", "Schmidt"),
    ("Quinn", "Rossi"),
    ("Drew", "Tanaka"),
)
ROLE_TYPES = ("ACCOUNTANT", "ADMINISTRATOR", "APPROVER", "PAYER", "CLERK", "AUDITOR")


@dataclass(frozen=True, slots=True)
class SimUser:
    """A user who can sign in (or, when locked, is refused with BDC_1110)."""

    id: str
    username: str
    password: str = field(repr=False)
    role: str
    first_name: str
    last_name: str
    locked: bool = False
    mfa_phone: str | None = None


@dataclass(frozen=True, slots=True)
class SimOrganization:
    """One BILL organization and the users that can sign in to it."""

    index: int
    id: str
    name: str
    users: tuple[SimUser, ...]


@dataclass(frozen=True, slots=True)
class DevKey:
    """A developer key and the organizations it may sign in to."""

    key: str = field(repr=False)
    organization_ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A Spend & Expense API token of one organization."""

    token: str = field(repr=False)
    organization_id: str


@dataclass(frozen=True, slots=True)
class World:
    """Everything about credentials; objects live in the data store."""

    environment: str
    seed: int
    salt: int
    organizations: tuple[SimOrganization, ...]
    dev_keys: tuple[DevKey, ...]
    api_tokens: tuple[ApiToken, ...]

    def organization(self, org_id: str) -> SimOrganization | None:
        """The organization with ``org_id``, or None."""
        for org in self.organizations:
            if org.id == org_id:
                return org
        return None

    def dev_key(self, key: str) -> DevKey | None:
        """The developer key ``key`` of this environment, or None."""
        for candidate in self.dev_keys:
            if candidate.key == key:
                return candidate
        return None

    def api_token(self, token: str) -> ApiToken | None:
        """The S&E API token ``token`` of this environment, or None."""
        for candidate in self.api_tokens:
            if candidate.token == token:
                return candidate
        return None

    def with_user(self, username: str, *, password: str | None = None, locked: bool | None = None) -> World:
        """A copy in which every user called ``username`` (any case) gets ``password``/``locked``."""
        changes: dict[str, Any] = {}
        if password is not None:
            changes["password"] = password
        if locked is not None:
            changes["locked"] = locked
        wanted = username.lower()

        def changed(user: SimUser) -> SimUser:
            return replace(user, **changes) if user.username.lower() == wanted else user

        organizations = tuple(
            replace(org, users=tuple(changed(user) for user in org.users)) for org in self.organizations
        )
        return replace(self, organizations=organizations)

    def users_named(self, username: str) -> list[SimUser]:
        """Every user called ``username`` (any case), one per organization the user belongs to."""
        wanted = username.lower()
        return [user for org in self.organizations for user in org.users if user.username.lower() == wanted]

    def to_json(self) -> dict[str, Any]:
        """The ``GET /_sim/world`` answer (secrets included: it is a test fixture)."""
        return {
            "environment": self.environment,
            "seed": self.seed,
            "organizations": [
                {"id": org.id, "name": org.name, "users": [user_json(user) for user in org.users]}
                for org in self.organizations
            ],
            "dev_keys": [
                {
                    "key": key.key,
                    "organization_ids": [o.id for o in self.organizations if o.id in key.organization_ids],
                }
                for key in self.dev_keys
            ],
            "api_tokens": [{"token": t.token, "organization_id": t.organization_id} for t in self.api_tokens],
        }


def user_json(user: SimUser) -> dict[str, Any]:
    """One user as ``GET /_sim/world`` shows it (password included: it is a test fixture)."""
    return {
        "id": user.id,
        "username": user.username,
        "password": user.password,
        "role": user.role,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "locked": user.locked,
        "mfa_phone": user.mfa_phone,
    }


def world_salt(config: SimConfig) -> int:
    """The salt every ID of this world is derived from."""
    return text_hash("billbridge-simulator", config.seed, config.environment)


def _user(config: SimConfig, salt: int, org: int, serial: int, *, role: str, slug: str) -> SimUser:
    first, last = _PEOPLE[(org * 3 + serial) % len(_PEOPLE)]
    tag = "" if config.environment == "production" else ".sandbox"
    return SimUser(
        id=object_id("006", salt=salt, org_index=org, serial=serial),
        username=f"{first.lower()}.{last.lower()}{serial or ''}@{slug}{tag}.example.com",
        password=secret("password", config.seed, config.environment, org, serial, length=18),
        role=role,
        first_name=first,
        last_name=last,
        locked=False,
        mfa_phone=f"+1555{(text_hash(salt, org) % 10_000_000):07d}" if role == "ADMINISTRATOR" else None,
    )


def build_world(config: SimConfig) -> World:
    """Build the deterministic world of ``config`` (same seed and environment, same world)."""
    salt = world_salt(config)
    orgs: list[SimOrganization] = []
    for index in range(config.organizations):
        base = _COMPANIES[(index + config.seed) % len(_COMPANIES)]
        name = base if index < len(_COMPANIES) else f"{base} {index // len(_COMPANIES) + 1}"
        slug = "".join(ch for ch in name.lower() if ch.isalnum())[:16] + str(index + 1)
        users = [
            _user(config, salt, index, 0, role="ADMINISTRATOR", slug=slug),
            _user(config, salt, index, 1, role="ACCOUNTANT", slug=slug),
        ]
        if index == 0:
            locked = _user(config, salt, index, 2, role="CLERK", slug=slug)
            users.append(
                SimUser(
                    id=locked.id,
                    username=locked.username,
                    password=locked.password,
                    role=locked.role,
                    first_name=locked.first_name,
                    last_name=locked.last_name,
                    locked=True,
                )
            )
        orgs.append(
            SimOrganization(
                index=index,
                id=object_id("008", salt=salt, org_index=index, serial=0),
                name=name,
                users=tuple(users),
            )
        )
    all_ids = [o.id for o in orgs]
    subsets = [all_ids, all_ids[: max(1, len(all_ids) // 2)], all_ids[-1:]][: config.dev_keys]
    subsets += [[all_ids[(j - 3) % len(all_ids)]] for j in range(3, config.dev_keys)]
    dev_keys = tuple(
        DevKey(
            key=secret("devkey", config.seed, config.environment, j, length=36),
            organization_ids=frozenset(ids),
        )
        for j, ids in enumerate(subsets)
    )
    tokens = tuple(
        ApiToken(
            token=secret("apitoken", config.seed, config.environment, o.index, length=40),
            organization_id=o.id,
        )
        for o in orgs
    )
    return World(
        environment=config.environment,
        seed=config.seed,
        salt=salt,
        organizations=tuple(orgs),
        dev_keys=dev_keys,
        api_tokens=tokens,
    )
