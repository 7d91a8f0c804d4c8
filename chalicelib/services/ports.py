"""The interfaces services depend on; adapters implement them, tests fake them."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

# Types only: a Protocol needs them for mypy, not at run time, and a cold start imports this module.
if TYPE_CHECKING:
    from chalicelib.domain.funding import (
        CardDetails,
        FundingProfile,
        Intent,
        PaymentMethod,
        PayoutAccount,
        TopUp,
        Withdrawal,
    )
    from chalicelib.domain.invitation import Invitation
    from chalicelib.domain.ledger import DailyLimit, IdempotencyPut, Movement
    from chalicelib.domain.messages import Message
    from chalicelib.domain.offline import Allowance, Device, DoubleSpend, Redemption, Voucher
    from chalicelib.domain.payment_request import PaymentRequest
    from chalicelib.domain.unit_of_work import WrittenWith
    from chalicelib.domain.user import CodeProof, NewWallet, PhoneChange, User
    from chalicelib.domain.verification import StoredCode
    from chalicelib.domain.wallet import Entry, IdempotentResponse, PaymentReads, Transfer, Wallet


class WebhookVerifier(Protocol):
    def verify(self, payload: bytes, signature: str | None) -> None:
        """Raise `InvalidWebhook` unless the signature is valid for this exact payload."""


class EventQueue(Protocol):
    def send(self, body: str) -> None:
        """Enqueue one message for the event-processing Lambda."""


class StripeEventLog(Protocol):
    def record_received(self, event_id: str, type_: str, object_id: str | None) -> bool:
        """Record an event id; False if it had been recorded before."""

    def status_of(self, event_id: str) -> str | None:
        """received | applied | None (never seen)."""

    def mark_applied(self, event_id: str, outcome: str) -> None:
        """The event's effect is done."""


class Counters(Protocol):
    def current(self, key: str, now: int) -> tuple[int, int]:
        """(failures in the live window, end of that window)."""

    def hit(self, key: str, now: int, window: int) -> tuple[int, int]:
        """Count one failure; the window's new count and end."""

    def clear(self, key: str) -> None:
        """Forget the failures (after a success)."""

    def add_distinct(self, key: str, member: str, now: int, window: int, limit: int) -> tuple[bool, int]:
        """Put `member` in the key's set of the live window (a new window of `window` seconds
        if none is live) unless the set holds `limit` others already; atomic, so racing adds
        never admit more than `limit` distinct members. (Whether `member` is in the set now,
        the second the window ends.) Adding a member twice counts it once."""

    def admits(self, key: str, member: str, now: int, limit: int) -> tuple[bool, int]:
        """What `add_distinct` would answer, counting nothing: (whether `member` is in the live
        window's set or the set has room for it, the second the window ends; 0 if none is live)."""


class FieldCipher(Protocol):
    def encrypt(self, plaintext: str, owner: str, field: str) -> str: ...

    def decrypt(self, ciphertext: str, owner: str, field: str) -> str: ...


Clock = Callable[[], float]  # seconds since the epoch (time.time in production)


class SecondFactor(Protocol):
    def require(self, user_id: str, otp: Any, *, session_id: str | None = None, counter: str | None = None) -> None:
        """Raise unless `otp` is a fresh TOTP code or an unused recovery code of the user; wrong
        ones count for the login `session_id`, else under `counter` (services.mfa)."""


class UserDirectory(Protocol):
    def user_id_for(self, identity_key: str) -> str | None:
        """The user an identity key (e-mail, phone, provider subject) belongs to."""

    def verified_user_for(self, identity_key: str) -> str | None:
        """The owner of a contact (e-mail or phone identity key), only once it is verified."""

    def get(self, user_id: str) -> User | None: ...


class Contacts(UserDirectory, Protocol):
    """The account writes that prove or change a contact, each one transaction with the
    identity item it guards and the code it consumes."""

    def confirm_email(self, user_id: str, email_key: str, proof: CodeProof | None,
                      password_hash: str | None = None) -> None: ...

    def confirm_phone(self, user_id: str, phone_key: str, phone_ct: str, proof: CodeProof,
                      created_at: str) -> None: ...

    def update_profile(self, user_id: str, names: dict[str, str], phone: PhoneChange | None) -> None: ...


class CodeStore(Protocol):
    def issue(self, code: StoredCode) -> None:
        """Store a new code for its key, replacing the live one."""

    def attempt(self, key: str, now: int) -> tuple[StoredCode | None, bool]:
        """Count one try; the code while usable, else (None, whether one was ever issued)."""


class Messenger(Protocol):
    def send_email(self, to: str, message: Message) -> None: ...

    def send_sms(self, to: str, message: Message) -> None: ...


class LedgerStore(Protocol):
    """Wallets, transfers and entries; every movement is one atomic write with its companions."""

    def get_wallet(self, wallet_id: str) -> Wallet | None: ...

    def wallets_of(self, owner_id: str) -> list[Wallet]: ...

    def default_wallet_id(self, owner_id: str, currency: str) -> str | None: ...

    def open_wallet(self, wallet: NewWallet) -> str | None:
        """Open a wallet: its id, or None for a default when one of its currency exists already."""

    def payment_reads(self, *, transfer_id: str, source_wallet: str, session_id: str | None = None,
                      recipient_wallet: str | None = None, contact_key: str | None = None) -> PaymentReads:
        """Everything a payment reads before its transaction, in one round trip (strongly
        consistent): `transfer_id` is the one its key derives, found when this is a retry."""

    def system_shard(self, account: str, currency: str) -> str: ...

    def spread_credits(self, main: Wallet, shards: int, now: str, record: WrittenWith | None = None) -> None:
        """Make a user wallet high-volume: credits land on `shards` items summed when read
        (with `record`, e.g. the operator's audit, in the same transaction)."""

    def sweep(self, wallet_id: str) -> int:
        """Fold a high-volume wallet's credit shards into its main item; the amount folded."""

    def get_transfer(self, transfer_id: str) -> Transfer | None: ...

    def get_idempotency(self, key: str) -> IdempotentResponse | None: ...

    def entries(self, wallet_id: str, limit: int, cursor: str | None = None) -> tuple[list[Entry], str | None]: ...

    def move(self, m: Movement, *, now: str, now_ms: int, memo_ct: str | None = None,
             request_hash: str | None = None, idempotency: IdempotencyPut | None = None,
             daily: DailyLimit | None = None, record: WrittenWith | None = None,
             answers_retries: bool = False) -> None:
        """Post a movement; DuplicateRequest if its transfer or companion was written already.
        `answers_retries`: the transfer record itself answers the request's retries (it keeps
        `request_hash`; no idempotency record is written)."""

    def hold(self, m: Movement, *, now: str, now_ms: int, idempotency: IdempotencyPut | None = None,
             daily: DailyLimit | None = None, record: WrittenWith | None = None, memo_ct: str | None = None,
             request_hash: str | None = None) -> None:
        """Hold a movement's amount on its source (pending)."""

    def resolve_hold(self, transfer: Transfer, *, post: bool, now: str, now_ms: int,
                     record: WrittenWith | None = None, to: tuple[str, str] | None = None) -> bool:
        """Post (to `to` if given) or void a pending hold once; False if it was resolved already."""

    def write(self, record: WrittenWith | None, *, now: str, idempotency: IdempotencyPut | None = None) -> None:
        """A companion without money (e.g. a payment request), with its idempotency record;
        or the idempotency record alone."""

    def get_invitation(self, transfer_id: str) -> Invitation | None: ...

    def invitations_for(self, contact_key: str) -> list[Invitation]:
        """The unclaimed invitations waiting for a contact."""

    def unclaimed_invitations(self) -> Iterable[Invitation]:
        """Every unclaimed invitation, soonest expiry first."""


class PaymentRequestStore(Protocol):
    """Reading payment requests; they are written through `LedgerStore` (with the money)."""

    def get(self, request_id: str) -> PaymentRequest | None: ...

    def newest(self, user_id: str, role: str, before: str | None, page: int) -> Iterator[PaymentRequest]:
        """The user's requests in a role (incoming | outgoing), newest first, after a cursor."""

    def cursor_of(self, r: PaymentRequest) -> str: ...

    def waiting_until(self, now: int) -> Iterator[PaymentRequest]:
        """Requests still stored as pending whose expiry is at or before `now`."""


class OfflineSigner(Protocol):
    """The offline key ring: certifies allowances, verifies certificates and vouchers."""

    kid: str

    def sign_certificate(self, claims: dict[str, Any]) -> str: ...

    def claims(self, compact: str) -> dict[str, Any] | None:
        """A certificate's claims, read without trusting them: the caller compares the whole
        certificate with the one it stored when it signed it."""

    def voucher(self, compact: str, device_key: str) -> dict[str, Any] | None:
        """The payload if the device with this key signed it."""

    def jwks(self) -> dict[str, Any]: ...


class OfflineStore(Protocol):
    """Devices, allowances and redemptions. An allowance is written with its hold through
    `LedgerStore.hold`, and closed through `LedgerStore.resolve_hold`; a redemption is one
    transaction of its own here."""

    def add_device(self, device: Device) -> None: ...

    def device(self, device_id: str) -> Device | None: ...

    def devices_of(self, user_id: str) -> list[Device]: ...

    def set_device_status(self, device_id: str, status: str, only_from: tuple[str, ...]) -> bool:
        """Change the status if it is one of `only_from`; False otherwise."""

    def allowance(self, allowance_id: str) -> Allowance | None: ...

    def allowances_of(self, user_id: str, limit: int, cursor: str | None) -> tuple[list[Allowance], str | None]: ...

    def releasable(self, now: int) -> Iterator[Allowance]:
        """Open allowances whose release time (expiry + grace) has come."""

    def redeem(self, allowance: Allowance, voucher: Voucher, hold_sk: str, payee: tuple[str, str], *,
               transfer_id: str, now: str, now_ms: int) -> None:
        """Credit one voucher in ONE transaction; `SeqTaken` (with the first redemption) if its
        (allowance, seq) was credited already, `Refused` (with a code) if the hold cannot."""

    def report_double_spend(self, evidence: DoubleSpend) -> None:
        """Keep both vouchers for a person and freeze the device (both idempotent)."""

    def redemption(self, allowance_id: str, seq: int) -> Redemption | None: ...


class FundingRepository(Protocol):
    """Stripe-side records: customers, payment methods, top-ups, withdrawals."""

    def user(self, user_id: str) -> FundingProfile | None: ...

    def set_customer(self, user_id: str, customer_id: str) -> str: ...

    def set_payout_account(self, user_id: str, account_id: str | None, status: str) -> None: ...

    def add_payment_method(self, pm: PaymentMethod, *, reattach: bool = False) -> None: ...

    def payment_method(self, payment_method_id: str) -> PaymentMethod | None: ...

    def payment_methods_of(self, user_id: str) -> list[PaymentMethod]: ...

    def detach(self, payment_method_id: str) -> bool: ...

    def claim_topup(self, topup: TopUp) -> bool: ...

    def topup(self, topup_id: str) -> TopUp | None: ...

    def topup_by_intent(self, payment_intent_id: str) -> TopUp | None: ...

    def record_charge(self, topup_id: str, intent_id: str | None, status: str, client_secret_ct: str | None,
                      response_ct: str) -> None: ...

    def set_topup_status(self, topup_id: str, status: str, unless: tuple[str, ...] = ()) -> bool: ...

    def flag_shortfall(self, topup_id: str, kind: str) -> None: ...

    def withdrawal(self, withdrawal_id: str) -> Withdrawal | None: ...

    def withdrawal_by_payout(self, payout_id: str) -> Withdrawal | None: ...

    def mark_attempt(self, withdrawal_id: str, user_id: str, call: str, when: float,
                     first: float | None = None) -> bool:
        """Claim one Stripe call that sends the money out (`transfer` | `payout`), in one
        transaction with the condition that its owner's account is not frozen and the withdrawal
        is pending and not barred: `first` None claims the first attempt (none recorded yet),
        else a repeat of the attempt recorded at `first`. False when not claimed: call nothing."""

    def bar_payout(self, withdrawal_id: str) -> bool:
        """Bar every later claim of a Stripe call for this withdrawal, only while it is pending
        and nothing has been claimed that could have sent money beyond the user's connected
        account (no payout attempt; a Connect transfer attempt only with its id recorded)."""

    def set_stripe_transfer(self, withdrawal_id: str, transfer_id: str) -> None: ...

    def set_reversal(self, withdrawal_id: str, reversal_id: str) -> None: ...

    def set_payout(self, withdrawal_id: str, payout_id: str) -> None: ...

    def set_withdrawal_status(self, withdrawal_id: str, status: str, reason: str | None = None) -> bool: ...

    def stuck_withdrawals(self, created_before: str) -> list[Withdrawal]: ...

    def keep_withdrawal_answer(self, withdrawal_id: str, response_ct: str) -> bool: ...

    def claim_resolution(self, withdrawal_id: str, outcome: str) -> bool:
        """Record a person's decision (paid | failed) on a withdrawal that needs attention,
        unless another decision was recorded; False then (or if it no longer needs attention)."""


class PaymentGateway(Protocol):
    """Every call to the payment provider. Refusals raise CardDeclined / PaymentProviderError /
    InvalidRequest (nothing happened); an unknown outcome raises ServiceUnavailable."""

    @property
    def platform_payouts(self) -> bool: ...

    def create_customer(self, user_id: str) -> str: ...

    def create_setup_intent(self, customer_id: str, key: str) -> Intent: ...

    def attach_payment_method(self, stripe_pm_id: str, customer_id: str) -> CardDetails: ...

    def detach_payment_method(self, stripe_pm_id: str) -> None: ...

    def charge(self, *, amount: int, currency: str, customer_id: str, stripe_pm_id: str,
               metadata: dict[str, str], key: str) -> Intent: ...

    def open_payout_account(self, user_id: str, existing: str | None) -> PayoutAccount: ...

    def transfer_to_account(self, *, amount: int, currency: str, account_id: str, withdrawal_id: str,
                            metadata: dict[str, str]) -> str: ...

    def find_transfer(self, withdrawal_id: str) -> str | None: ...

    def create_payout(self, *, amount: int, currency: str, account_id: str | None, withdrawal_id: str,
                      metadata: dict[str, str]) -> str: ...

    def find_payout(self, account_id: str | None, withdrawal_id: str) -> str | None: ...

    def reverse_transfer(self, transfer_id: str, amount: int, withdrawal_id: str) -> str: ...

    def find_reversal(self, transfer_id: str, withdrawal_id: str) -> str | None: ...

    def refunds_of(self, charge_id: str) -> list[int] | None:
        """The amount of every refund ever made on a charge, failed ones included (an unknown
        outcome raises ServiceUnavailable); None when Stripe will not list them (an unknown
        charge)."""

    def payout_amount(self, payout: dict[str, Any]) -> tuple[int, str]: ...
