"""What a service asks to be written in the same transaction as the money ("together with").

Services describe these as typed values; the ledger's store turns the movement and its
companion into ONE DynamoDB transaction, each with the condition that makes it happen once.
"""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.audit import AuditEntry
from chalicelib.domain.invitation import Invitation
from chalicelib.domain.ledger import DailyLimit
from chalicelib.domain.offline import Allowance, DeviceCheck
from chalicelib.domain.payment_request import PaymentRequest, RequestOutcome


@dataclass(frozen=True)
class NewWithdrawal:
    """The withdrawal written with its hold (only if no withdrawal has this id)."""

    withdrawal_id: str
    user_id: str
    wallet_id: str
    amount: int
    currency: str
    request_hash: str
    created_at: str


@dataclass(frozen=True)
class WithdrawalStatusChange:
    """The withdrawal's status moved with the money it stands for (the hold posted or voided,
    a failed payout's credit), only from one of `from_`."""

    withdrawal_id: str
    status: str
    from_: tuple[str, ...] = ("pending", "needs_attention")


@dataclass(frozen=True)
class TopUpTotal:
    """A top-up's running total (`refunded`, `disputed`, `refund_returned`) moved from `old`
    to `new` with the money it stands for, so each amount moves once. `at_most_refunded`:
    the new total may not exceed what refunds took (failed refunds given back)."""

    topup_id: str
    attribute: str
    old: int
    new: int
    at_most_refunded: bool = False


@dataclass(frozen=True)
class InvitationOutcome:
    """An invitation leaves `unclaimed` with its hold: `posted` (claimed before the expiry),
    `canceled` (by its sender) or `expired` (at or after the expiry). `at` is the time the
    expiry is compared with; `by` the claimer or the canceling sender."""

    transfer_id: str
    status: str
    at: int
    by: str | None = None


@dataclass(frozen=True)
class NewAllowance:
    """An offline allowance written with its hold (only if no allowance has this id), counted
    in its owner's outstanding total (`outstanding`: its key and limit), and only while its
    device is still active (a freeze or a revocation racing the hold wins)."""

    allowance: Allowance
    outstanding: DailyLimit
    device: DeviceCheck


@dataclass(frozen=True)
class AllowanceClosed:
    """An allowance closed with the void of its remainder, only if still open, due at `at`,
    and unchanged since it was read (`spent`): a redemption racing the release makes this fail,
    so every unit of the hold has exactly one outcome."""

    allowance_id: str
    spent: int
    at: int
    outstanding_key: str
    remainder: int


@dataclass(frozen=True)
class AccountStatusChange:
    """An operator's freeze (`frozen`) or unfreeze (`active`) of an account, only from `from_`."""

    user_id: str
    status: str
    from_: str


@dataclass(frozen=True)
class Audited:
    """An operator's change (`change`, or nothing when the command changed nothing) written in
    ONE transaction with its audit record: no change without its record, no record of a change
    that did not happen."""

    change: NewWithdrawal | WithdrawalStatusChange | AccountStatusChange | None
    entry: AuditEntry


# A new invitation (`domain.invitation.Invitation`, unclaimed) is written with its hold too; a
# new payment request (pending) alone or with its idempotency record, and its outcome (paid)
# with the payment.
WrittenWith = (NewWithdrawal | WithdrawalStatusChange | TopUpTotal | Invitation | InvitationOutcome
               | PaymentRequest | RequestOutcome | NewAllowance | AllowanceClosed | AccountStatusChange | Audited)
