"""The simulator's memory of uploaded attachments: each file's size and SHA-256, not its bytes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Attachment:
    """One uploaded file, as the simulator remembers it."""

    id: str
    organization_id: str
    owner: str
    owner_id: str
    name: str
    size: int
    sha256: str

    def answer(self) -> dict[str, object]:
        """What BILL answers about an attachment."""
        return {"id": self.id, "name": self.name, "downloadLink": f"https://attachments.invalid/{self.id}"}


class Attachments:
    """The files uploaded since the simulator started (or was reset)."""

    def __init__(self) -> None:
        self.items: list[Attachment] = []

    def add(
        self, organization_id: str, owner: str, owner_id: str, name: str, size: int, digest: str
    ) -> Attachment:
        item = Attachment(
            f"att01{len(self.items) + 1:015X}", organization_id, owner, owner_id, name, size, digest
        )
        self.items.append(item)
        return item
