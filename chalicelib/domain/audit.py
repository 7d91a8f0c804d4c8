"""What an operator did, as the append-only audit log keeps it (docs/operations.md)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

AUDIT_LOG = "ops"  # the log's one partition: operators act a few times a day, not per second


@dataclass(frozen=True)
class AuditEntry:
    """One command that changed (or tried to change) something: who, what, why, when, and the
    state before and after. `reason_ct` is the operator's free text, encrypted; `before` and
    `after` hold ids, statuses and amounts only, never a name or contact. Reads are recorded
    too: an operator seeing a person's data is an access worth a trace."""

    audit_id: str
    at: str
    actor: str
    command: str
    target: str
    outcome: str  # done | no_change | refused | read
    reason_ct: str | None = None  # required for every outcome but `read`
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None

    @property
    def sort_key(self) -> str:
        return f"{self.at}#{self.audit_id}"
