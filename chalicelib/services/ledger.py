"""Wallets and transfers: the one service through which money moves.

P2P payments, own-wallet transfers and (from the funding issue) top-ups, refunds and withdrawals
all become a `Movement` handed to the store, which writes it in one DynamoDB transaction.
Idempotency is atomic with the money: the (user, key) record is put in that same transaction,
with the original response (encrypted), so a retry returns exactly what the first call returned.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from chalicelib.domain.commands import Address, SendTransfer
from chalicelib.domain.contact import (
    email_lookup_key,
    identity_key,
    normalize_email,
    normalize_phone,
    phone_lookup_key,
)
from chalicelib.domain.errors import Conflict, InvalidRequest, NotFound, Unauthorized
from chalicelib.domain.ids import new_id, rfc3339
from chalicelib.domain.invitation import INVITATIONS_ACCOUNT, Invitation, Invitee
from chalicelib.domain.ledger import (
    REVERSIBLE,
    CurrencyMismatch,
    DailyLimit,
    DuplicateRequest,
    IdempotencyPut,
    InsufficientFunds,
    Movement,
    RecipientNotFound,
    SameWallet,
    check_idempotency_key,
    default_wallet_id,
    deterministic_id,
    request_hash,
    reversal_id,
)
from chalicelib.domain.money import Money, currency_exponent
from chalicelib.domain.principal import PendingSession
from chalicelib.domain.results import EntryView, TransferView, wallet_view
from chalicelib.domain.unit_of_work import WrittenWith
from chalicelib.domain.user import NewWallet
from chalicelib.domain.wallet import (
    SYSTEM_OWNER,
    Entry,
    PaymentReads,
    Transfer,
    Wallet,
    is_system_wallet,
    system_wallet_id,
)
from chalicelib.services.lockout import DistinctLimit, Lockout, lookup_key
from chalicelib.services.ports import FieldCipher, LedgerStore, UserDirectory
from chalicelib.services.replay import Outcome, reopen, same_request, seal

__all__ = ["LOOKUP_MISSES_PER_HOUR", "Ledger", "LedgerPolicy", "Outcome", "idempotency_record_key",
           "wallet_view"]

IDEMPOTENCY_TTL = 30 * 24 * 3600
# Different addresses without a verified owner one account may try per hour, across transfers,
# invitations and payment requests (the contract's "30 distinct unknown recipients").
LOOKUP_MISSES_PER_HOUR = 30
# A transaction holds at most 100 items: marking a wallet writes it and each shard at once.
MAX_CREDIT_SHARDS = 32

Answer = TypeVar("Answer", bound=Mapping[str, object])  # what a payment answers (`Ledger.pay`)


def idempotency_record_key(user_id: str, operation: str, key: str) -> str:
    """Keys are scoped per user AND per operation: the same key on /transfers and on another
    money route names two different requests."""
    return f"{user_id}#{operation}#{hashlib.sha256(key.encode()).hexdigest()}"


@dataclass(frozen=True)
class LedgerPolicy:
    currencies: tuple[str, ...]
    default_currency: str
    max_transfer_major: int = 1_000_000
    daily_limit_major: int = 1_000_000
    invite_ttl_seconds: int = 30 * 86400  # how long money for an unverified contact waits


@dataclass
class Ledger:
    store: LedgerStore
    users: UserDirectory
    blind_index: Callable[[str], str]
    cipher: FieldCipher
    policy: LedgerPolicy
    now: Callable[[], float] = time.time
    # Tells an invited contact that money waits for them: (sender, whom, the transfer).
    # Called once, after the money is held; never on a replay.
    announce: Callable[[str, Invitee, TransferView], None] = lambda sender, invitee, transfer: None
    # Invitations a sender may make per window: each one sends a message on our account.
    invite_limit: Lockout | None = None
    # Distinct unknown addresses an account may look up per window (`screen_lookup`).
    lookup_limit: DistinctLimit | None = None
    # A payment priced by an exchange quote (`quote_id` instead of amount and currency):
    # services.exchange.Exchanges.pay, called with what `transfer` read (docs/exchange.md).
    quoted: Callable[[str, str, str, str, SendTransfer, PaymentReads, Invitee | None],
                     Outcome[TransferView]] | None = None

    # -- wallets --------------------------------------------------------------------------------
    def wallets(self, user_id: str) -> list[Wallet]:
        return sorted(self.store.wallets_of(user_id), key=lambda w: (w.created_at, w.wallet_id))

    def wallet(self, user_id: str, wallet_id: str) -> Wallet:
        return self._own(user_id, self.store.get_wallet(wallet_id))

    def open_wallet(self, user_id: str, currency: str, name: str | None = None) -> Wallet:
        self.check_currency(currency)
        created = rfc3339(self.now())
        name = name or f"{currency} wallet"
        # The first wallet of a currency becomes its default (where payments by e-mail land).
        if self.store.default_wallet_id(user_id, currency) is None:
            opened = self.store.open_wallet(NewWallet(default_wallet_id(user_id, currency), user_id, currency, name,
                                                      created, is_default=True))
            if opened:
                return self.wallet(user_id, opened)
            # Lost a race for the default: this one is an extra wallet of the currency.
        opened = self.store.open_wallet(NewWallet(new_id("wal"), user_id, currency, name, created, is_default=False))
        return self.wallet(user_id, str(opened))

    def spread_credits(self, wallet_id: str, shards: int, record: WrittenWith | None = None) -> None:
        """Mark a wallet high-volume (a merchant): its credits spread over `shards` items (an
        operator's decision; docs/hot-wallets.md)."""
        if not 1 <= shards <= MAX_CREDIT_SHARDS:
            raise InvalidRequest(f"A wallet has 1 to {MAX_CREDIT_SHARDS} credit shards.")
        w = self.store.get_wallet(wallet_id)
        if w is None or w.kind != "user":
            raise NotFound("The wallet was not found.")
        if shards < w.credit_shards:  # a shard beyond the count would hold money nobody reads
            raise InvalidRequest(f"The wallet has {w.credit_shards} credit shards; their number cannot shrink.")
        self.store.spread_credits(w, shards, rfc3339(self.now()), record)

    def default_wallet(self, user_id: str, currency: str) -> str:
        """The user's default wallet of a currency, opened if missing (where payments land)."""
        existing = self.store.default_wallet_id(user_id, currency)
        if existing:
            return str(existing)
        created = rfc3339(self.now())
        opened = self.store.open_wallet(NewWallet(default_wallet_id(user_id, currency), user_id, currency,
                                                  f"{currency} wallet", created, is_default=True))
        existing = opened or self.store.default_wallet_id(user_id, currency)
        if not existing:  # lost a race to a default that is gone again: nothing to pay into
            raise Conflict("The recipient's wallet changed concurrently; retry with the same Idempotency-Key.")
        return existing

    def daily_limit(self, user_id: str, amount: Money, now: float) -> DailyLimit:
        """The counter of the user's outgoing total today in this currency (transfers and
        withdrawals), updated with a condition inside the money's transaction."""
        day = datetime.fromtimestamp(now, tz=UTC).strftime("%Y-%m-%d")
        return DailyLimit(key=f"{user_id}#{amount.currency}#{day}",
                          limit=self.policy.daily_limit_major * 10 ** currency_exponent(amount.currency),
                          expires_at=int(now) + 3 * 86400)

    def check_maximum(self, amount: Money) -> None:
        """The per-movement maximum of the configuration (400 above it)."""
        if amount > Money.of_major(self.policy.max_transfer_major, amount.currency):
            raise InvalidRequest("The amount is above the per-transfer maximum.", details=[
                {"field": "amount", "message": f"at most {self.policy.max_transfer_major} {amount.currency}"}])

    def asked(self, amount: int | None, currency: str | None) -> Money:
        """A command's amount and currency as Money: the currency checked first (an unknown code
        is a 400, not a crash), then the per-movement maximum."""
        if amount is None or currency is None:  # the body's own rule (api.wallets.TransferIn)
            raise InvalidRequest("amount and currency are required (or quote_id)")
        self.check_currency(currency)
        money = Money(amount, currency)
        self.check_maximum(money)
        return money

    def check_currency(self, currency: str) -> None:
        if currency not in self.policy.currencies:
            raise InvalidRequest("This currency is not supported.", details=[
                {"field": "currency", "message": f"must be one of {', '.join(self.policy.currencies)}"}])

    # -- statements -----------------------------------------------------------------------------
    def statement(self, user_id: str, wallet_id: str, limit: int,
                  cursor: str | None) -> tuple[list[EntryView], str | None]:
        self.wallet(user_id, wallet_id)
        entries, next_cursor = self.store.entries(wallet_id, limit, cursor)
        return [self._entry_view(e) for e in entries], next_cursor

    def _entry_view(self, e: Entry) -> EntryView:
        view: EntryView = {"transfer_id": e.transfer_id, "type": e.type, "direction": e.direction,
                                "amount": e.amount, "currency": e.currency, "status": e.status,
                                "created_at": e.created_at}
        if e.counterparty_wallet_id:
            cp = e.counterparty_wallet_id
            view["counterparty"] = cp.split(":")[1] if is_system_wallet(cp) else cp
        if e.memo_ct:
            view["memo"] = self.cipher.decrypt(e.memo_ct, e.transfer_id, "memo")
        return view

    # -- transfers ------------------------------------------------------------------------------
    def transfer(self, user_id: str, idempotency_key: str | None, request: SendTransfer,
                 session: PendingSession | None = None) -> Outcome[TransferView]:
        """POST /transfers: validate, then move the money in one transaction, once per key.

        Two round trips when paying a wallet: one batch read (the caller's session if
        `session` is pending, the transfer the key derives, both wallets or the contact), then
        the transaction, whose conditions re-check what money depends on. By e-mail or phone,
        one more between them: the caller's look-up allowance (`screen_lookup`).

        A payment's transfer id derives from the key, and its record keeps the request's hash:
        that record answers the retries (`_replay_transfer`), and no idempotency record is
        written beside it (2 WCU less per payment, and no answer to encrypt). Invitations and
        payments with a quote still keep theirs (their first answer says more than the record)."""
        key = check_idempotency_key(idempotency_key)
        idem_key = idempotency_record_key(user_id, "transfers", key)
        transfer_id = deterministic_id("tr", user_id, key)
        req_hash = self.request_hash("transfers", request.as_request())
        to = request.to_address
        try:
            invitee: Invitee | None = None if to is None else self.contact_of(to, "to")
        except InvalidRequest:  # a malformed address: answered after the key's record is read
            invitee, bad_address = None, True
        else:
            bad_address = False
        reads = self.store.payment_reads(
            transfer_id=transfer_id, source_wallet=request.from_wallet_id,
            session_id=session.session_id if session else None, recipient_wallet=request.to_wallet_id,
            contact_key=invitee.contact_key if invitee else None)
        if session:
            if reads.session is None or not reads.session.active_at(int(self.now())):
                raise Unauthorized()
            session.confirmed = True
        if reads.earlier is not None:
            return self._replay_transfer(reads.earlier, idem_key, req_hash, user_id)
        if bad_address and to is not None:
            self.contact_of(to, "to")  # raises the address's own 400
        return self._written_once(idem_key, req_hash, user_id,
                                  lambda: self._transfer(user_id, key, idem_key, req_hash, request, reads, invitee),
                                  transfer_id=transfer_id)

    def _transfer(self, user_id: str, key: str, idem_key: str, req_hash: str, request: SendTransfer,
                  reads: PaymentReads, invitee: Invitee | None) -> Outcome[TransferView]:
        if request.quote_id is not None:  # delivered in another currency: the quote's own rules and legs
            if self.quoted is None:
                raise InvalidRequest("Payments with a quote are not available.")
            return self.quoted(user_id, key, idem_key, req_hash, request, reads, invitee)
        amount = self.asked(request.amount, request.currency)
        source = self._own(user_id, reads.source)
        if source.currency != amount.currency:
            raise CurrencyMismatch()
        if invitee is not None:  # before anything that answers differently for a known address
            self.screen_lookup(user_id, invitee.contact_key, reads.contact_owner)
        memo = request.memo
        spread = 0
        if invitee is None:
            to = self._payable(reads.recipient, amount.currency)
            spread = reads.recipient.credit_shards if reads.recipient else 0
        elif reads.contact_owner is None:
            if not request.invite:
                raise RecipientNotFound()
            if self.users.user_id_for(invitee.contact_key) == user_id:
                raise SameWallet("This is your own address: verify it instead.")
            # A contact nobody has verified: an invitation. It counts against a rate limit
            # before writing, so a retry must find the key's record first (replay_or).
            # A twin of this key that paid (no idempotency record) is found by its transfer.
            return self.replay_or(idem_key, req_hash, user_id,
                                  lambda: self._invite(user_id, key, idem_key, req_hash, source, amount, invitee, memo),
                                  transfer_id=deterministic_id("tr", user_id, key))
        else:
            owner = reads.contact_owner
            guess = (default_wallet_id(owner, amount.currency), owner)
            if guess[0] != source.wallet_id:
                try:
                    return self.pay(user_id, key, idem_key, req_hash, source, guess, amount, memo, answer=_as_is,
                                    answers_retries=True)
                except RecipientNotFound:
                    pass  # a default opened before its id was derived, or none yet: read the pointer
            to = (self.default_wallet(owner, amount.currency), owner)
        if to[0] == source.wallet_id:
            raise SameWallet()
        return self.pay(user_id, key, idem_key, req_hash, source, to, amount, memo, answer=_as_is, spread=spread,
                        answers_retries=True)

    @staticmethod
    def _own(user_id: str, w: Wallet | None) -> Wallet:
        if w is None or w.owner_id != user_id or w.kind != "user":
            raise NotFound("The wallet was not found.")  # someone else's is "not found" too
        return w

    @staticmethod
    def _payable(w: Wallet | None, currency: str) -> tuple[str, str]:
        if w is None or w.kind != "user" or w.status != "active":
            raise RecipientNotFound()
        if w.currency != currency:
            raise CurrencyMismatch()
        return w.wallet_id, w.owner_id

    def pay(self, user_id: str, key: str, idem_key: str, req_hash: str, source: Wallet, to: tuple[str, str],
            amount: Money, memo: str | None, *, answer: Callable[[TransferView], Answer],
            record: WrittenWith | None = None, transfer_id: str | None = None, spread: int = 0,
            answers_retries: bool = False) -> Outcome[Answer]:
        """Move `amount` from the user's `source` wallet to `to` (wallet, owner), once per key:
        debit, credit, the transfer and its legs, the key's record, the daily total and `record`
        (e.g. the payment request it pays) in ONE transaction. `answer` turns the transfer into
        the body the call returns and a retry gets again (`_as_is`: the transfer). `transfer_id`
        must be derived from the key AND the operation when it is not /transfers. Callers run
        it inside `replay_or`, which answers retries and races of the same key. `spread` is the
        recipient's credit shards (a high-volume wallet, as read). `answers_retries` (POST
        /transfers, whose answer is the transfer): no idempotency record, the transfer's own
        record answers retries (`_replay_transfer`)."""
        now = self.now()
        transfer_id = transfer_id or deterministic_id("tr", user_id, key)
        body = self._transfer_body(transfer_id, "posted", source.wallet_id, to[0], amount, memo, rfc3339(now))
        kept = answer(body)
        idem = None if answers_retries else self.kept_answer(idem_key, req_hash, user_id, kept, now, transfer_id)
        movement = Movement(transfer_id, "transfer", source.wallet_id, to[0], amount, user_id, to[1],
                            to_credit_shards=spread)
        self.store.move(movement, now=body["created_at"], now_ms=int(now * 1000),
                        memo_ct=self._memo_ct(memo, transfer_id), request_hash=req_hash, idempotency=idem,
                        daily=self.daily_limit(user_id, amount, now), record=record, answers_retries=answers_retries)
        return Outcome(kept)

    def _written_once(self, idem_key: str, req_hash: str, user_id: str,
                      write: Callable[[], Outcome[Answer]], transfer_id: str | None = None) -> Outcome[Answer]:
        try:
            return write()
        except DuplicateRequest:
            # A concurrent request with the same key won the race: answer as its replay (from
            # the transfer it made, when `transfer_id` is what the key derives).
            earlier = self.store.get_transfer(transfer_id) if transfer_id else None
            if earlier is not None:
                return self._replay_transfer(earlier, idem_key, req_hash, user_id)
            previous = self.store.get_idempotency(idem_key)
            if previous is None:
                raise Conflict("A request with this Idempotency-Key is in progress.") from None
            return self._replay(previous, req_hash, user_id)

    def _replay_transfer(self, earlier: Transfer, idem_key: str, req_hash: str, user_id: str) -> Outcome[Any]:
        """A retry of POST /transfers that made `earlier`. A payment's record answers it: the
        same request (its hash), the same body as first answered (a payment answers "posted",
        whatever happened to it since). Transfers written with an idempotency record
        (invitations, payments with a quote, payments from before records answered) replay it."""
        if earlier.from_owner != user_id:  # ids derive from the caller's id: never expected
            raise Conflict("This Idempotency-Key was used for an earlier transfer.")
        if not earlier.answers_retries:
            previous = self.store.get_idempotency(idem_key)
            if previous is None:  # its record expired: the key cannot make another transfer
                raise Conflict("This Idempotency-Key was used for an earlier transfer.")
            return self._replay(previous, req_hash, user_id)
        same_request(earlier.request_hash or "", req_hash)
        memo = self.cipher.decrypt(earlier.memo_ct, earlier.transfer_id, "memo") if earlier.memo_ct else None
        return Outcome(self._transfer_body(earlier.transfer_id, "posted", earlier.from_wallet_id, earlier.to_wallet_id,
                                           Money(earlier.amount, earlier.currency), memo, earlier.created_at),
                       replayed=True)

    def _invite(self, user_id: str, key: str, idem_key: str, req_hash: str, source: Wallet, amount: Money,
                invitee: Invitee, memo: str | None) -> Outcome[TransferView]:
        """Hold the money for a contact nobody has verified; the invitation is written with the
        hold, and the first account to verify the contact before the expiry receives it."""
        now = self.now()
        if self.invite_limit:
            self.invite_limit.attempt(f"invite#{user_id}", int(now))
        transfer_id = deterministic_id("tr", user_id, key)
        expires_at = int(now) + self.policy.invite_ttl_seconds
        body: TransferView = {**self._transfer_body(transfer_id, "unclaimed", source.wallet_id, None, amount, memo,
                                                    rfc3339(now)),
                              "claim_expires_at": rfc3339(expires_at)}
        created = body["created_at"]
        idem = self.kept_answer(idem_key, req_hash, user_id, body, now, transfer_id)
        # Until claimed, the hold names the invitations account; the claim posts it to the
        # claimer's wallet instead (resolve_hold `to`).
        movement = Movement(transfer_id, "transfer", source.wallet_id,
                            system_wallet_id(INVITATIONS_ACCOUNT, amount.currency, 0), amount, user_id, SYSTEM_OWNER)
        invitation = Invitation(transfer_id=transfer_id, sender_id=user_id, wallet_id=source.wallet_id,
                                contact_key=invitee.contact_key, amount=amount.amount, currency=amount.currency,
                                status="unclaimed", created_at=created, expires_at=expires_at)
        self.store.hold(movement, now=created, now_ms=int(now * 1000), idempotency=idem,
                        daily=self.daily_limit(user_id, amount, now), record=invitation,
                        memo_ct=self._memo_ct(memo, transfer_id), request_hash=req_hash)
        self.announce(user_id, invitee, body)
        return Outcome(body)

    @staticmethod
    def _transfer_body(transfer_id: str, status: str, from_wallet_id: str, to_wallet: str | None, amount: Money,
                       memo: str | None, created_at: str) -> TransferView:
        """POST /transfers' answer, first given and replayed (`_replay_transfer`). An empty memo
        is no memo, as the transfer's record (and GET /transfers/{id}) has it."""
        return {"transfer_id": transfer_id, "type": "transfer", "status": status,
                "from_wallet_id": from_wallet_id, "to_wallet_id": to_wallet, "amount": amount.amount,
                "currency": amount.currency, "memo": memo or None, "created_at": created_at}

    def kept_answer(self, idem_key: str, req_hash: str, user_id: str, body: Mapping[str, object],
                    now: float, resource_id: str, status_code: int = 201) -> IdempotencyPut:
        """The (user, key) record written with the money (or with a payment request), holding
        the answer a retry gets."""
        return IdempotencyPut(key=idem_key, request_hash=req_hash, status_code=status_code,
                              response_ct=seal(self.cipher, user_id, body), resource_id=resource_id,
                              expires_at=int(now) + IDEMPOTENCY_TTL)

    def replay_or(self, idem_key: str, req_hash: str, user_id: str,
                  write: Callable[[], Outcome[Answer]], transfer_id: str | None = None) -> Outcome[Answer]:
        """The first answer again if this key was used, else `write`, once however many race
        (`transfer_id`: the transfer a twin of this key may have made instead, `_written_once`)."""
        previous = self.store.get_idempotency(idem_key)
        if previous is not None:
            return self._replay(previous, req_hash, user_id)
        return self._written_once(idem_key, req_hash, user_id, write, transfer_id=transfer_id)

    def _memo_ct(self, memo: str | None, transfer_id: str) -> str | None:
        return self.cipher.encrypt(memo, transfer_id, "memo") if memo else None

    def request_hash(self, operation: str, request: dict[str, Any]) -> str:
        """The keyed hash of a request as JSON (a command's `as_request()`): the JSON edge."""
        return request_hash(operation, request, self.blind_index)

    def _replay(self, previous: Any, req_hash: str, user_id: str) -> Outcome[Any]:
        same_request(previous.request_hash, req_hash)
        return reopen(self.cipher, user_id, previous.response_ct)

    def screen_lookup(self, user_id: str, contact_key: str, owner: str | None) -> None:
        """Bound what an account can learn about who is registered (issue 26, attack 4).

        Paying or asking an address answers differently whether it has a verified owner
        (recipient_not_found, an invitation, or insufficient_funds from an empty wallet), so
        every such look-up passes here first, right after the checks that do not depend on the
        address and before any that does (the balance is checked later, in the transaction):
        - a miss (`owner` None) is counted in the account's set of unknown addresses for the
          window: at most `lookup_limit.limit` distinct ones, then 429;
        - a hit counts nothing (paying people one knows is what the wallet is for), but once
          the set is full it is refused alike unless the address is in the set: at the limit
          every new address answers 429, known or not, so the 429 itself tells nothing.
        The member is the contact's blind-index key, never the address. A retry with the same
        Idempotency-Key is answered from its record before it gets here, and an address
        counted once is free in its window, so nothing is counted twice."""
        if self.lookup_limit is None:
            return
        now = int(self.now())
        if owner is None:
            self.lookup_limit.count(lookup_key(user_id), contact_key, now)
        else:
            self.lookup_limit.check(lookup_key(user_id), contact_key, now)

    def contact(self, to: Address, field: str) -> tuple[str | None, Invitee]:
        """The user whose VERIFIED contact `to` (an e-mail or a phone) is (None if nobody's), and
        the contact as an invitee. `field` names the body field in a validation error."""
        invitee = self.contact_of(to, field)
        return self.users.verified_user_for(invitee.contact_key), invitee

    def contact_of(self, to: Address, field: str) -> Invitee:
        """`to` normalized, with the key its identity item is stored under."""
        if to.channel == "email":
            address = normalize_email(to.value, field=f"{field}.email")
            lookup = email_lookup_key(address)
        else:
            address = normalize_phone(to.value, field=f"{field}.phone")
            lookup = phone_lookup_key(address)
        return Invitee(identity_key(lookup, self.blind_index), to.channel, address)

    def get_transfer(self, user_id: str, transfer_id: str) -> TransferView:
        return self.transfer_view(self.visible_transfer(user_id, transfer_id))

    def visible_transfer(self, user_id: str, transfer_id: str) -> Transfer:
        """The transfer, for its sender or recipient only (anyone else: 404)."""
        t = self.store.get_transfer(transfer_id)
        if t is None or user_id not in (t.from_owner, t.to_owner):
            raise NotFound("The transfer was not found.")
        return t

    def transfer_view(self, t: Transfer) -> TransferView:
        view: TransferView = {"transfer_id": t.transfer_id, "type": t.type, "status": t.status,
                "from_wallet_id": t.from_wallet_id, "to_wallet_id": t.to_wallet_id, "amount": t.amount,
                "currency": t.currency,
                "memo": self.cipher.decrypt(t.memo_ct, t.transfer_id, "memo") if t.memo_ct else None,
                "created_at": t.created_at}
        invitation = self.store.get_invitation(t.transfer_id) if t.type == "transfer" else None
        if invitation is not None:  # its status speaks for it: unclaimed | posted | canceled | expired
            view["status"] = invitation.status
            view["claim_expires_at"] = rfc3339(invitation.expires_at)
            if invitation.status != "posted":
                view["to_wallet_id"] = None
        if t.delivered_to and t.delivered_currency and t.delivered_amount is not None:
            # Paid in another currency: the recipient's wallet and what it received.
            view["to_wallet_id"] = t.delivered_to
            view["delivered"] = {"amount": t.delivered_amount, "currency": t.delivered_currency}
        return view

    # -- operators ------------------------------------------------------------------------------
    def reverse(self, transfer_id: str, *, record: WrittenWith, allow_negative: bool = False) -> Transfer | None:
        """An operator's compensating transfer: a posted payment's amount from its recipient back
        to its sender, in one transaction with `record` (the audit), never an edit of history.
        Once per transfer (the reversal's id derives from it): None when it was reversed
        already. A user wallet never goes negative (InsufficientFunds); a system account may,
        only when the operator says so (`allow_negative`)."""
        t = self.store.get_transfer(transfer_id)
        if t is None:
            raise NotFound("The transfer was not found.")
        if t.type not in REVERSIBLE or t.status != "posted":
            raise InvalidRequest(f"Only a posted payment can be reversed (this is a {t.status} {t.type}).")
        if allow_negative and not is_system_wallet(t.to_wallet_id):
            raise InvalidRequest("A user's wallet never goes negative: --allow-negative is for system accounts.")
        if is_system_wallet(t.to_wallet_id) and not allow_negative:
            account = self.store.get_wallet(t.to_wallet_id)
            if account is None or account.available < t.amount:
                raise InsufficientFunds("The system account is short: --allow-negative lets it go negative.")
        reversal = Movement(reversal_id(transfer_id), "reversal", t.to_wallet_id, t.from_wallet_id,
                            Money(t.amount, t.currency), t.to_owner, t.from_owner)
        if not self._system_move(reversal, record=record):
            return None
        return self.store.get_transfer(reversal.transfer_id)

    # -- system movements (top-ups, refunds, tests) ---------------------------------------------
    def credit_from_system(self, account: str, wallet_id: str, amount: Money, transfer_id: str,
                           type_: str = "topup", record: WrittenWith | None = None) -> bool:
        """Move money from a system account (e.g. Stripe clearing) into a wallet, once per
        `transfer_id`: False if that transfer (or `record`'s claim) happened already."""
        w = self._existing(wallet_id)
        return self._system_move(Movement(transfer_id, type_, self.store.system_shard(account, amount.currency),
                                          wallet_id, amount, "system", w.owner_id), record=record)

    def debit_to_system(self, account: str, wallet_id: str, amount: Money, transfer_id: str, type_: str,
                        *, hold: bool = False, record: WrittenWith | None = None,
                        daily_limit: bool = False) -> bool:
        """Move money (or, with `hold`, hold it) from a wallet to a system account, once per
        `transfer_id`; InsufficientFunds if the wallet cannot cover it (it never goes negative).
        With `daily_limit` it counts toward the owner's daily outgoing limit (withdrawals)."""
        w = self._existing(wallet_id)
        movement = Movement(transfer_id, type_, wallet_id, self.store.system_shard(account, amount.currency),
                            amount, w.owner_id, "system")
        daily = self.daily_limit(w.owner_id, amount, self.now()) if daily_limit else None
        return self._system_move(movement, hold=hold, record=record, daily=daily)

    def resolve_hold(self, transfer_id: str, *, post: bool, record: WrittenWith | None = None,
                     to: tuple[str, str] | None = None) -> bool:
        """Post or void a pending hold exactly once; False if it was resolved already. `record`
        (e.g. the withdrawal's status change) is written in the same transaction, so the hold
        and the resource that owns it can never disagree after a crash."""
        t = self.store.get_transfer(transfer_id)
        if t is None:
            raise NotFound("The transfer was not found.")
        if post and to is None and t.to_wallet_id.startswith(f"sys:{INVITATIONS_ACCOUNT}:"):
            raise ValueError("an invitation's hold is posted only to the wallet of whoever claims it")
        now = self.now()
        return bool(self.store.resolve_hold(t, post=post, now=rfc3339(now), now_ms=int(now * 1000), record=record,
                                            to=to))

    def _existing(self, wallet_id: str) -> Wallet:
        w = self.store.get_wallet(wallet_id)
        if w is None:
            raise NotFound("The wallet was not found.")
        return w

    def _system_move(self, movement: Movement, *, hold: bool = False, record: WrittenWith | None = None,
                     daily: Any = None) -> bool:
        now = self.now()
        try:
            if hold:
                self.store.hold(movement, now=rfc3339(now), now_ms=int(now * 1000), record=record, daily=daily)
            else:
                self.store.move(movement, now=rfc3339(now), now_ms=int(now * 1000), record=record, daily=daily)
        except DuplicateRequest:
            return False
        return True


def _as_is(transfer: TransferView) -> TransferView:
    """A payment's answer when it is the transfer itself (`Ledger.pay`'s `answer`)."""
    return transfer
