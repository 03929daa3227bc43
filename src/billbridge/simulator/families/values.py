"""Plausible values for generated records: amounts, names, companies, addresses, contacts, schedules."""

from __future__ import annotations

from billbridge.simulator.families.base import Draw, GenContext, Record
from billbridge.simulator.ids import mix64, text_hash


def amount(rng: Draw, low: float, high: float) -> float:
    """A money amount with cents."""
    return round(rng.uniform(low, high), 2)


def person(rng: Draw) -> tuple[str, str]:
    """A (first, last) name."""
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)


FIRST_NAMES = ("Alex", "Sam", "Jamie", "Robin", "Charlie", "Dana", "Emery", "Finley", "Harper", "Kai")
LAST_NAMES = ("Garcia", "Smith", "Chen", "Müller", "Dubois", "Silva", "Ivanova", "Haddad", "Cohen", "Ward")
CITIES = (
    ("San Jose", "CA", "95110", "US"),
    ("Austin", "TX", "73301", "US"),
    ("Boston", "MA", "02108", "US"),
    ("Denver", "CO", "80202", "US"),
    ("Toronto", "ON", "M5H 2N2", "CA"),
    ("Vancouver", "BC", "V6B 1A1", "CA"),
)
WORDS_A = (
    "Acme",
    "Apex",
    "Blue",
    "Bright",
    "Cobalt",
    "Delta",
    "Evergreen",
    "First",
    "Golden",
    "Harbor",
    "Iron",
    "Juniper",
    "Keystone",
    "Lakeside",
    "Metro",
    "Nova",
    "Oak",
    "Pioneer",
    "Quarry",
    "River",
)
WORDS_B = (
    "Supply",
    "Labs",
    "Partners",
    "Foods",
    "Logistics",
    "Design",
    "Systems",
    "Works",
    "Consulting",
    "Office",
    "Print",
    "Energy",
    "Freight",
    "Media",
    "Outfitters",
    "Analytics",
)
SUFFIXES = ("Inc", "LLC", "Co", "Ltd", "Group")


def company_name(ctx: GenContext, family: str, serial: int) -> str:
    """A company name that depends only on (world, org, family, serial): references can rebuild it."""
    h = mix64(ctx.salt ^ text_hash(family, ctx.org_index) ^ serial)
    return (
        f"{WORDS_A[h % len(WORDS_A)]} {WORDS_B[(h >> 8) % len(WORDS_B)]} "
        f"{SUFFIXES[(h >> 16) % len(SUFFIXES)]} {serial + 1}"
    )


def address(rng: Draw) -> Record:
    """A postal address in BILL's shape."""
    city, state, zipcode, country = rng.choice(CITIES)
    return {
        "line1": f"{rng.randrange(1, 9999)} {rng.choice(WORDS_A)} St",
        "city": city,
        "stateOrProvince": state,
        "zipOrPostalCode": zipcode,
        "country": country,
    }


def phone(rng: Draw) -> str:
    """A phone number, digits only."""
    return f"555{rng.randrange(1_000_000, 9_999_999)}"


def company_email(mailbox: str, company: str) -> str:
    """``mailbox`` at a domain made from the company's name."""
    slug = "".join(ch for ch in company.lower() if ch.isalnum())[:20]
    return f"{mailbox}@{slug}.example.com"


def schedule(
    ctx: GenContext, rng: Draw, serial: int, *, periods: tuple[str, ...], days_in_advance: int
) -> Record:
    """The ``schedule`` of a recurring bill or invoice: every period, the next due date within 30 days."""
    return {
        "period": rng.choice(periods),
        "frequency": 1,
        "nextDueDate": ctx.date_near(rng, serial, days=30),
        "daysInAdvance": days_in_advance,
    }
