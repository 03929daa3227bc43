"""Which syncs start for a new connection and how often they run (``BILLBRIDGE_SYNC_DEFAULTS``, and
per integration ``BILLBRIDGE_BILL_SYNC_DEFAULTS`` / ``BILLBRIDGE_BILL_SANDBOX_SYNC_DEFAULTS``).

The setting is ``all`` (the default: every sync at its own frequency, ``roles`` daily, the rest
hourly), ``none``, or a comma list of sync names, each optionally ``=FREQUENCY`` as Nango writes
frequencies (``vendors=every 15m,bills,roles=every 1d``); ``all=every 30m`` sets one frequency for
every sync.
"""

from __future__ import annotations

from dataclasses import dataclass

from billbridge.errors import ValidationError
from billbridge.store.sync_frequency import Frequency, parse_frequency
from billbridge.sync.definitions import SYNCS, SyncDefinition, get_sync, syncs_for

FIELD = "BILLBRIDGE_SYNC_DEFAULTS"


def _frequency(text: str, field: str) -> Frequency:
    try:
        return parse_frequency(text)
    except ValidationError as exc:
        raise ValidationError(f"{field}: {exc.message}", field=field) from None


@dataclass(frozen=True, slots=True)
class SyncPlan:
    """The syncs a new connection starts with, each with its frequency."""

    frequencies: dict[str, Frequency]

    @classmethod
    def default(cls) -> SyncPlan:
        return cls.parse("all")

    @classmethod
    def parse(cls, text: str, *, field: str = FIELD) -> SyncPlan:
        """Read a sync defaults setting (see the module docstring); ``field`` names it in errors.

        Raises:
            ValidationError: naming ``field`` and the bad part.
        """
        text = text.strip()
        if text.lower() in {"", "none"}:
            return cls({})
        frequencies: dict[str, Frequency] = {}
        for part in (p.strip() for p in text.split(",")):
            name, _, every = (x.strip() for x in part.partition("="))
            if name == "all":
                for definition in SYNCS.values():
                    frequencies[definition.name] = _frequency(every or definition.frequency, field)
                continue
            try:
                definition = get_sync(name)
            except ValidationError as exc:
                raise ValidationError(f"{field}: {exc.message}", field=field) from None
            frequencies[name] = _frequency(every or definition.frequency, field)
        return cls(frequencies)

    def for_connection(self, *, has_api_token: bool) -> list[tuple[SyncDefinition, Frequency]]:
        """The planned syncs this connection can run (S&E ones only with an API token)."""
        allowed = {d.name: d for d in syncs_for(has_api_token=has_api_token)}
        return [(allowed[name], every) for name, every in self.frequencies.items() if name in allowed]
