"""Reading the operators' audit log; records are written only inside the transaction of the
change they describe (`DynamoLedger`, `Audited`)."""
from __future__ import annotations

import json
from collections.abc import Iterator

from chalicelib.adapters.dynamodb.models import AuditRecord
from chalicelib.domain.audit import AUDIT_LOG, AuditEntry


class DynamoAudit:
    def since(self, at: str) -> Iterator[AuditEntry]:
        """Every record at or after `at` (RFC 3339), oldest first."""
        for r in AuditRecord.query(AUDIT_LOG, AuditRecord.sk >= at, consistent_read=True):
            yield AuditEntry(audit_id=r.audit_id, at=r.at, actor=r.actor, command=r.command, target=r.target,
                             reason_ct=r.reason_ct, outcome=r.outcome,
                             before=json.loads(r.before) if r.before else None,
                             after=json.loads(r.after) if r.after else None)
