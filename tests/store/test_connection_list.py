"""ConnectionRepository.list: Nango's filters, order and paging, on both databases."""

from __future__ import annotations

import pytest
from store_samples import FakeClock, link

from billbridge.store import ConnectionRepository


def _user(user_id: str, name: str, email: str, org: str | None) -> dict[str, object]:
    return {
        "id": user_id,
        "display_name": name,
        "email": email,
        "organization": {"id": org, "display_name": None} if org else None,
    }


@pytest.fixture
async def sample(connections: ConnectionRepository, clock: FakeClock) -> dict[str, int]:
    rows = [
        (
            "alpha",
            "bill-sandbox",
            _user("u1", "Zoë Ärger", "zoe@Example.com", "o1"),
            {"env": "dev", "team": "ap"},
        ),
        ("beta", "bill", _user("u2", "Bob 100%_Sure", "bob@corp.test", "o1"), {"env": "prod"}),
        ("gamma-ALPHA", "bill", _user("u3", "Carol", "carol@corp.test", "o2"), {"env": "dev", "team": "ar"}),
        ("delta", "bill-sandbox", None, {}),
    ]
    pks: dict[str, int] = {}
    for connection_id, key, end_user, tags in rows:
        clock.advance(seconds=1)
        conn, _ = await link(
            connections, connection_id, provider_config_key=key, end_user=end_user, tags=tags
        )
        pks[connection_id] = conn.pk
    return pks


async def _ids(repo: ConnectionRepository, **filters: object) -> list[str]:
    return [c.connection_id for c in await repo.list(**filters)]  # type: ignore[arg-type]


async def test_newest_first(connections: ConnectionRepository, sample: dict[str, int]) -> None:
    assert await _ids(connections) == ["delta", "gamma-ALPHA", "beta", "alpha"]


async def test_exact_filters(connections: ConnectionRepository, sample: dict[str, int]) -> None:
    assert await _ids(connections, connection_id="beta") == ["beta"]
    assert await _ids(connections, connection_id="BETA") == []
    assert await _ids(connections, end_user_id="u3") == ["gamma-ALPHA"]
    assert await _ids(connections, end_user_organization_id="o1") == ["beta", "alpha"]
    assert await _ids(connections, end_user_organization_id="o") == []


async def test_integration_ids(connections: ConnectionRepository, sample: dict[str, int]) -> None:
    assert await _ids(connections, integration_ids=["bill"]) == ["gamma-ALPHA", "beta"]
    assert await _ids(connections, integration_ids=["bill", "bill-sandbox"]) == [
        "delta",
        "gamma-ALPHA",
        "beta",
        "alpha",
    ]
    assert await _ids(connections, integration_ids=[]) == []


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("alpha", ["gamma-ALPHA", "alpha"]),  # connection id, any case
        ("ZOË", ["alpha"]),  # display name, non-ASCII case folding
        ("example.COM", ["alpha"]),  # email
        ("corp", ["gamma-ALPHA", "beta"]),
        ("100%_", ["beta"]),  # LIKE wildcards are literal
        ("%", ["beta"]),
        ("_", ["beta"]),
        ("nothing", []),
    ],
)
async def test_search(
    connections: ConnectionRepository, sample: dict[str, int], search: str, expected: list[str]
) -> None:
    assert await _ids(connections, search=search) == expected


async def test_tags_must_all_be_present(connections: ConnectionRepository, sample: dict[str, int]) -> None:
    assert await _ids(connections, tags={"env": "dev"}) == ["gamma-ALPHA", "alpha"]
    assert await _ids(connections, tags={"env": "dev", "team": "ap"}) == ["alpha"]
    assert await _ids(connections, tags={"env": "dev", "team": "zz"}) == []
    assert await _ids(connections, tags={"team": "ap", "env": "prod"}) == []
    assert await _ids(connections, tags={"missing": "x"}) == []


async def test_filters_combine(connections: ConnectionRepository, sample: dict[str, int]) -> None:
    assert await _ids(connections, integration_ids=["bill"], tags={"env": "dev"}, search="a") == [
        "gamma-ALPHA"
    ]


async def test_limit_and_offset(connections: ConnectionRepository, sample: dict[str, int]) -> None:
    assert await _ids(connections, limit=2) == ["delta", "gamma-ALPHA"]
    assert await _ids(connections, limit=2, offset=2) == ["beta", "alpha"]
    assert await _ids(connections, offset=3) == ["alpha"]
    assert await _ids(connections, limit=2, offset=10) == []


async def test_same_creation_time_orders_by_id(connections: ConnectionRepository) -> None:
    for name in ("one", "two", "three"):
        await link(connections, name)
    assert await _ids(connections) == ["three", "two", "one"]
