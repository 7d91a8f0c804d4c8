"""Bodies of the non-HTTP Lambdas (SQS, DynamoDB streams), so `app.py` only wires them."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from chalicelib import observability
from chalicelib.container import get_container
from chalicelib.domain.errors import InvalidWebhook
from chalicelib.services import stripe_events
from chalicelib.services.funding import Redeliver

log = logging.getLogger(__name__)


def process_stripe_events(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply each queued event; report the failed ones so only they are retried (then DLQ)."""
    failures = []
    c = get_container()
    for record in records:
        observability.bind(message_id=record.get("messageId"))
        try:
            stripe_events.apply_event(record["body"], c.stripe_event_log, c.funding)
        except InvalidWebhook:
            # Verified before queueing, so unparseable means corrupt: retrying cannot help.
            log.error("unparseable stripe event dropped")
            observability.count("StripeEventFailed")
        except Redeliver as signal:
            log.warning("stripe event not applicable yet (%s); will be redelivered", type(signal).__name__)
            failures.append({"itemIdentifier": record["messageId"]})
        except Exception:
            log.exception("stripe event failed; it will be retried")
            observability.count("StripeEventFailed")
            failures.append({"itemIdentifier": record["messageId"]})
    observability.unbind("message_id")
    observability.flush()
    return {"batchItemFailures": failures}


def process_stream(records: list[dict[str, Any]]) -> int:
    """Notifications from a batch of stream records; a failure fails the batch (retried)."""
    from chalicelib.adapters.dynamodb.stream import changes

    c = get_container()
    made = c.notifications.handle(changes(records, c.settings.table_prefix))
    observability.count("NotificationsMade", made)
    observability.flush()
    return made


def reconcile_ledger() -> dict[str, Any]:
    """The invariant check, on its own schedule: nothing about payouts can stop it."""
    from chalicelib.services.reconcile import reconcile, report_drift

    c = get_container()
    report = reconcile(c.ledger_store, offline=c.offline_store, stale_after_seconds=c.settings.stale_hold_seconds)
    report_drift(report)
    return {"ok": report.ok, "drift": len(report.drift), "wallets": report.wallets, "transfers": report.transfers,
            "stale_holds": len(report.stale_holds)}


def resume_withdrawals() -> Mapping[str, object]:
    """Withdrawals stopped between their hold and Stripe, each on its own (see Funding)."""
    done = get_container().funding.resume_stuck_withdrawals()
    observability.flush()
    return done


def sweep_invitations() -> Mapping[str, object]:
    """Money for contacts nobody verified in time goes back; missed deliveries are made."""
    done = get_container().invitations.sweep()
    observability.count("InvitationsExpired", done["expired"])
    observability.flush()
    return done


def expire_payment_requests() -> dict[str, int]:
    """Pending requests past their expiry are written as expired (they read so already)."""
    done = get_container().payment_requests.expire()
    observability.flush()
    return {"expired": done}


def close_unverified_accounts() -> Mapping[str, object]:
    """Accounts whose contacts stayed unverified for 7 days are closed, their address released
    (services.closing); those holding money are left to operators."""
    done = get_container().account_closing.sweep()
    observability.flush()
    return done


def release_allowances() -> dict[str, int]:
    """Offline allowances past expiry + grace: what is left goes back to the wallet."""
    done = get_container().allowance_release.release_due()
    observability.count("OfflineAllowancesReleased", done)
    observability.flush()
    return {"released": done}
