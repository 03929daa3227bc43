"""Which syncs start for a new connection and how often they run (``BILLBRIDGE_SYNC_DEFAULTS``).

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


def _frequency(text: str) -> Frequency:
    try:
        return parse_frequency(text)
    except ValidationError as exc:
        raise ValidationError(f"{FIELD}: {exc.message}", field=FIELD) from None


@dataclass(frozen=True, slots=True)
class SyncPlan:
    """The syncs a new connection starts with, each with its frequency."""

    frequencies: dict[str, Frequency]

    @classmethod
    def default(cls) -> SyncPlan:
        return cls.parse("all")

    @classmethod
    def parse(cls, text: str) -> SyncPlan:
        """Read ``BILLBRIDGE_SYNC_DEFAULTS`` (see the module docstring).

        Raises:
            ValidationError: naming ``BILLBRIDGE_SYNC_DEFAULTS`` and the bad part.
        """
        text = text.strip()
        if text.lower() in {"", "none"}:
            return cls({})
        frequencies: dict[str, Frequency] = {}
        for part in (p.strip() for p in text.split(",")):
            name, _, every = (x.strip() for x in part.partition("="))
            if name == "all":
                for definition in SYNCS.values():
                    frequencies[definition.name] = _frequency(every or definition.frequency)
                continue
            try:
                definition = get_sync(name)
            except ValidationError as exc:
                raise ValidationError(f"{FIELD}: {exc.message}", field=FIELD) from None
            frequencies[name] = _frequency(every or definition.frequency)
        return cls(frequencies)

    def for_connection(self, *, has_api_token: bool) -> list[tuple[SyncDefinition, Frequency]]:
        """The planned syncs this connection can run (S&E ones only with an API token)."""
        allowed = {d.name: d for d in syncs_for(has_api_token=has_api_token)}
        return [(allowed[name], every) for name, every in self.frequencies.items() if name in allowed]
