"""All object data of a world, built lazily per (organization, family) on first access."""

from __future__ import annotations

import gc
from collections.abc import Callable

from billbridge.simulator.families import CATALOG, SPEND_CATALOG, FamilySpec, GenContext, Record
from billbridge.simulator.families.base import Resolver
from billbridge.simulator.families.org import role_ref
from billbridge.simulator.store import FamilyStore
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
            was_enabled = gc.isenabled()
            gc.disable()
            try:
                generated = [spec.generate(batch, serial) for serial in range(count)]
                if space == "v3" and spec.path == "users":
                    for serial in range(len(org.users)):
                        generated[serial] = self._world_user(ctx, org, serial, generated[serial])
                store = FamilyStore(spec, ctx, generated, resolve=self._resolver(org, space))
                if self.on_change is not None:
                    on_change, org_id = self.on_change, org.id
                    store.listener = lambda s, change, record: on_change(org_id, space, s, change, record)
                self._stores[key] = store
            finally:
                if was_enabled:
                    gc.enable()
        return store

    def _resolver(self, org: SimOrganization, space: str) -> Resolver:
        catalog = SPEND_CATALOG if space == "spend" else CATALOG

        def resolve(family: str, record_id: str) -> Record | None:
            spec = catalog.get(family)
            if spec is None:
                return None
            return self.family(org, spec, space=space).records.get(record_id)

        return resolve

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
