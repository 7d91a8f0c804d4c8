"""Who is calling: the verified subject of an access token."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    user_id: str
    session_id: str | None = None
