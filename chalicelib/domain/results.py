"""What the use cases answer: the JSON views, typed (each matches its response schema in
chalicelib/api, key for key). They are plain dicts at run time, so the answer sealed into an
idempotency record (`Outcome.body`) and replayed later is exactly the one first given."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, NotRequired, TypedDict

if TYPE_CHECKING:
    from chalicelib.domain.wallet import Wallet


class MoneyView(TypedDict):
    """An amount of a currency; every view of a movement of money starts with one."""

    amount: int
    currency: str


class WalletView(TypedDict):
    wallet_id: str
    currency: str
    name: str
    balance: int
    held: int
    available: int
    is_default: bool
    created_at: str


class EntryView(MoneyView):
    transfer_id: str
    type: str
    direction: str
    status: str
    created_at: str
    counterparty: NotRequired[str]
    memo: NotRequired[str]


class TransferView(MoneyView):
    transfer_id: str
    type: str
    status: str
    from_wallet_id: str
    to_wallet_id: str | None
    memo: str | None
    created_at: str
    claim_expires_at: NotRequired[str]  # an invitation's
    delivered: NotRequired[MoneyView]  # paid with an exchange quote


class PartyView(TypedDict):
    user_id: str
    display_name: str | None


class PaymentRequestView(MoneyView):
    request_id: str
    status: str
    requester: PartyView
    payer: PartyView
    memo: str | None
    transfer_id: str | None
    created_at: str
    expires_at: str


class PaidView(TypedDict):
    request: PaymentRequestView
    transfer: TransferView


class RatesView(TypedDict):
    base: str
    as_of: str
    rates: dict[str, str]


class RatesRefreshed(TypedDict):
    as_of: str
    currencies: int
    stored: bool


class QuoteView(TypedDict):
    quote_id: str
    sell: MoneyView
    buy: MoneyView
    mid_rate: str
    rate: str
    fee: MoneyView
    expires_at: str
    created_at: str


class ExchangeView(TypedDict):
    exchange_id: str
    quote_id: str
    from_wallet_id: str
    to_wallet_id: str
    sell: MoneyView
    buy: MoneyView
    rate: str
    fee: MoneyView
    status: str
    created_at: str


class DeviceView(TypedDict):
    device_id: str
    name: str | None
    public_key: str
    status: str
    created_at: str


class AllowanceView(MoneyView):
    allowance_id: str
    device_id: str
    wallet_id: str
    spent: int
    remaining: int
    status: str
    expires_at: str
    certificate: str


class VoucherResultView(TypedDict):
    seq: int | None
    status: str
    code: NotRequired[str]
    transfer_id: NotRequired[str]


class RedeemView(TypedDict):
    results: list[VoucherResultView]


# -- statements (docs/statements.md) --------------------------------------------------------------
class BalanceView(TypedDict):
    wallet_id: str
    currency: str
    at: str
    balance: int


class LinkView(TypedDict):
    """An entry in its chain: its place, what it moved, and the hashes that link it (None
    only on a statement's line posted moments ago, not chained yet)."""

    seq: int | None
    chain: str
    posted_at: str
    transfer_id: str
    type: str
    direction: str
    amount: int
    hash: str | None
    prev_hash: str | None


class StatementItemView(LinkView):
    """A statement's line: its link, and the balance after it."""

    balance_after: int


class HeadView(TypedDict):
    seq: int
    hash: str


class ChainProofView(TypedDict):
    chain: str
    head: HeadView
    path: list[dict[str, str]]  # {side, hash}
    tail: list[LinkView]


class CheckpointView(TypedDict):
    checkpoint_id: str
    at: str
    root: str
    jws: str


class ProofView(TypedDict):
    checkpoint: CheckpointView
    chains: list[ChainProofView]


PeriodView = TypedDict("PeriodView", {"from": str, "to": str})  # `from` is a keyword


class StatementView(TypedDict):
    wallet_id: str
    currency: str
    period: PeriodView
    opening_balance: int
    closing_balance: int
    items: list[StatementItemView]
    proof: ProofView | None


class CheckpointMade(TypedDict):
    checkpoint_id: str
    chains: int
    broken: int


class ChainProblem(TypedDict, total=False):
    """What verify-ledger found: where (the entry, or the checkpoint) and what."""

    wallet_id: str
    chain: str
    seq: int | None
    transfer_id: str
    checkpoint_id: str
    posted_at: str
    what: str


class LedgerVerified(TypedDict):
    intact: bool
    chains: int
    entries: int
    checkpoints: int
    first: ChainProblem | None
    problems: list[ChainProblem]
    problem_count: int


# -- funding (Stripe) -----------------------------------------------------------------------------
class SetupIntentView(TypedDict):
    setup_intent_id: str
    client_secret: str | None  # as the gateway's Intent types it; Stripe gives one for a SetupIntent


class CardView(TypedDict):
    """A payment method's details as stored (encrypted): what the client shows of its card."""

    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None


class PaymentMethodView(CardView):
    payment_method_id: str
    type: str
    created_at: str


class TopUpView(MoneyView):
    topup_id: str
    status: str
    wallet_id: str
    provider_reference: str | None
    created_at: str
    client_secret: NotRequired[str]  # only while the card asks for an action (3-D Secure)


class PayoutAccountView(TypedDict):
    status: str
    onboarding_url: NotRequired[str]


# -- scheduled jobs (what each run did, for its logs) ---------------------------------------------
class WithdrawalsResumed(TypedDict):
    resumed: int
    failed: int


class InvitationsSwept(TypedDict):
    expired: int
    delivered: int
    failed: int


class UnverifiedSwept(TypedDict):
    closed: int
    kept: int


# -- operators' commands (python -m ops, docs/operations.md) --------------------------------------
class WithdrawalView(MoneyView):
    withdrawal_id: str
    status: str
    wallet_id: str
    provider_reference: str | None
    created_at: str


class OperatorWithdrawalView(WithdrawalView):
    user_id: str
    attention_reason: str | None
    stripe_transfer_id: str | None
    reversal_id: str | None
    transfer_attempted_at: str | None
    payout_attempted_at: str | None


class AuditView(TypedDict):
    audit_id: str
    at: str
    actor: str
    command: str
    target: str
    outcome: str
    before: dict[str, Any] | None  # the audit's snapshots: ids, statuses, amounts (JSON)
    after: dict[str, Any] | None
    reason: str | None


class OperatorWalletView(WalletView):
    credit_shards: int


class HoldView(MoneyView):
    transfer_id: str
    type: str
    wallet_id: str
    created_at: str


class OperatorTransferView(TransferView):
    from_owner: str
    to_owner: str


class UserReport(TypedDict):
    user: dict[str, Any]  # the decrypted profile and the account's status
    wallets: list[OperatorWalletView]
    holds: list[HoldView]
    transfers: list[OperatorTransferView]


class Unchanged(TypedDict):
    changed: Literal[False]
    audit_id: str
    state: dict[str, Any]


class StatusChanged(TypedDict):
    changed: Literal[True]
    audit_id: str
    user_id: str
    status: str


class WithdrawalResolved(TypedDict):
    changed: Literal[True]
    audit_id: str
    withdrawal: OperatorWithdrawalView | None


class Reversed(TypedDict):
    changed: Literal[True]
    audit_id: str
    reversal: TransferView


class CreditsSpread(TypedDict):
    changed: Literal[True]
    audit_id: str
    wallet_id: str
    credit_shards: int


class TopupMismatch(TypedDict):
    topup_id: str
    payment_intent_id: str
    problems: list[str]


class TopupsCompared(TypedDict):
    since: str
    checked: int
    mismatches: list[TopupMismatch]
    unchecked: list[str]


class LedgerReport(TypedDict):
    ok: bool
    wallets: int
    transfers: int
    entries: int
    totals: dict[str, int]
    drift: list[str]
    stale_holds: list[str]


class ExchangeReport(TypedDict):
    positions: dict[str, int]
    revenue: dict[str, int]


class ReconcileReport(TypedDict):
    ok: bool
    ledger: LedgerReport
    exchange: ExchangeReport
    stripe: TopupsCompared


# -- notifications --------------------------------------------------------------------------------
class NotificationView(TypedDict):
    notification_id: str
    type: str
    read: bool
    created_at: str
    data: dict[str, Any]  # the notification's own payload, per type (docs/api.md)


class NotificationPageView(TypedDict):
    items: list[NotificationView]
    next_cursor: str | None
    unread_count: int


def wallet_view(w: Wallet) -> WalletView:
    """A person's wallet as the API answers it (here, not in domain/wallet.py: the wallets route
    needs it at import, and the wallet module brings the user's with it)."""
    return {"wallet_id": w.wallet_id, "currency": w.currency, "name": w.name, "balance": w.balance,
            "held": w.held, "available": w.available, "is_default": w.is_default, "created_at": w.created_at}
