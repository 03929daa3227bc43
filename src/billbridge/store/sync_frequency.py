"""Sync frequencies as Nango writes them ("every 1h", "every 30 minutes", "every half day")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from billbridge.errors import ValidationError

MIN_SECONDS: Final = 30
_UNITS: Final = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}
_NAMED: Final = {
    "month": ("30d", 30 * 86_400),
    "week": ("1w", 7 * 86_400),
    "half day": ("12h", 12 * 3_600),
    "half hour": ("30m", 30 * 60),
    "quarter hour": ("15m", 15 * 60),
}
# Nango's frequencySchema (packages/server/lib/helpers/validation.ts), same words and units.
_SHAPE: Final = re.compile(
    r"^(?:every )?(?:(?P<amount>[0-9]+)?\s?"
    r"(?P<unit>s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)"
    r"|(?P<named>month|week|half day|half hour|quarter hour))$"
)


@dataclass(frozen=True, slots=True)
class Frequency:
    """A parsed frequency: the text as given, the interval Nango answers with, and its seconds."""

    text: str
    interval: str
    seconds: int


def parse_frequency(text: str) -> Frequency:
    """Parse ``every <amount><unit>`` (or a named period) as Nango accepts it.

    Raises:
        ValidationError: not a frequency, or shorter than 30 seconds (field ``frequency``).
    """
    match = _SHAPE.match(text.strip())
    if match is None:
        raise ValidationError(
            "frequency must look like 'every 30 minutes', 'every 2h', 'every day' or 'every half hour'",
            field="frequency",
        )
    if match["named"]:
        interval, seconds = _NAMED[match["named"]]
    else:
        amount = int(match["amount"] or 1)
        unit = match["unit"][0]
        interval, seconds = f"{amount}{unit}", amount * _UNITS[unit]
    if seconds < MIN_SECONDS:
        raise ValidationError(f"frequency must be at least {MIN_SECONDS} seconds", field="frequency")
    return Frequency(text.strip(), interval, seconds)
