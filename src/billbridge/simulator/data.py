"""All object data of a world, built lazily per (organization, family) on first access."""

from __future__ import annotations

from collections.abc import Callable

from billbridge.simulator.families import CATALOG, SPEND_CATALOG, FamilySpec, GenContext, Record
from billbridge.simulator.families.org import role_ref
from billbridge.simulator.store import FamilyStore, collector_paused
from billbridge.simulator.world import SimOrganization, World

#: Told of every record change: ``on_change(organization_id, space, store, change, record)``.
OnChange = Callable[[str, str, FamilyStore, str, Record], None]


class DataStore:
    """Object data of every organization of ``world``.

    Args:
        world: The world whose organizations own the data.
        records: Records per main family per organization.
        on_change: Told of every change of a record (webhook events).
    """

    def __init__(self, world: World, *, records: int, on_change: OnChange | None = None) -> None:
        self.world = world
        self.records = records
        self.on_change = on_change
        self._stores: dict[tuple[str, str, str], FamilyStore] = {}

    def context(self, org: SimOrganization) -> GenContext:
        """The generation context of ``org``."""
        return GenContext(salt=self.world.salt, org_index=org.index, org_id=org.id, records=self.records)

    def family(self, org: SimOrganization, spec: FamilySpec, *, space: str = "v3") -> FamilyStore:
        """The store of ``spec`` in ``org`` (generated now if this is its first use)."""
        key = (org.id, space, spec.path)
        store = self._stores.get(key)
        if store is None:
            ctx = self.context(org)
            batch = ctx.batch(f"{space}/{spec.path}")
            count = spec.count(self.records)
            if space == "v3" and spec.path == "users":
                count = max(count, len(org.users))
            # Cyclic GC passes over millions of fresh (acyclic) dicts would double the build time.
            with collector_paused():
                generated = [spec.generate(batch, serial) for serial in range(count)]
                if space == "v3" and spec.path == "users":
                    for serial in range(len(org.users)):
                        generated[serial] = self._world_user(ctx, org, serial, generated[serial])
                store = FamilyStore(spec, ctx, generated, refs=OrgRefs(self, org, space))
                store.build_indexes()
                if self.on_change is not None:
                    on_change, org_id = self.on_change, org.id
                    store.listener = lambda s, change, record: on_change(org_id, space, s, change, record)
                self._stores[key] = store
        return store

    def attached(
        self, org: SimOrganization, spec: FamilySpec, owner: str, seed: Callable[[GenContext], list[Record]]
    ) -> FamilyStore:
        """A store of records that belong to one other record (a budget's members), built from
        ``seed`` on first use."""
        key = (org.id, f"spend/{owner}", spec.path)
        store = self._stores.get(key)
        if store is None:
            ctx = self.context(org)
            store = FamilyStore(spec, ctx, seed(ctx), refs=OrgRefs(self, org, "spend"))
            self._stores[key] = store
        return store

    @staticmethod
    def _world_user(ctx: GenContext, org: SimOrganization, serial: int, template: Record) -> Record:
        user = org.users[serial]
        return {
            "id": user.id,
            "archived": False,
            "firstName": user.first_name,
            "lastName": user.last_name,
            "email": user.username,
            "role": role_ref(ctx, user.role),
            "createdTime": template["createdTime"],
            "updatedTime": template["createdTime"],
        }


class OrgRefs:
    """The records of one organization (in the AP/AR or the S&E space) a write may use."""

    def __init__(self, data: DataStore, org: SimOrganization, space: str) -> None:
        self.data = data
        self.org = org
        self.space = space
        self.catalog = SPEND_CATALOG if space == "spend" else CATALOG

    def _store(self, family: str) -> FamilyStore | None:
        spec = self.catalog.get(family)
        return None if spec is None else self.data.family(self.org, spec, space=self.space)

    def find(self, family: str, record_id: str) -> Record | None:
        """The record of ``family`` with ``record_id``, or None."""
        store = self._store(family)
        return None if store is None else store.records.get(record_id)

    def create(self, family: str, body: Record, *, now: str) -> Record:
        """Create a record of ``family`` as the API would."""
        store = self._store(family)
        if store is None:
            raise KeyError(family)
        return store.create(body, now=now)

    def change(self, family: str, record_id: str, changes: Record, *, now: str) -> Record:
        """Set fields of a record of ``family`` (a side effect of another write)."""
        store = self._store(family)
        if store is None:
            raise KeyError(family)
        return store.force(record_id, changes, now=now)
