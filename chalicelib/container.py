"""Composition root: builds each adapter once per Lambda container, lazily.

Nothing is built at import time (no AWS call, no heavy import); a route asks for what it needs
and the first request in a fresh container pays for it once. Tests replace the container (or
single attributes of it) with `set_container`.
"""
from __future__ import annotations

import time
from collections.abc import Collection
from functools import cached_property
from typing import TYPE_CHECKING, Any

from chalicelib.config import Settings, get_settings

if TYPE_CHECKING:  # types only: nothing heavy is imported before a route needs it
    from chalicelib.services.closing import AccountClosing
    from chalicelib.services.codes import OneTimeCodes
    from chalicelib.services.contacts import ContactVerification
    from chalicelib.services.exchange import Exchanges, FxStore
    from chalicelib.services.funding import Funding
    from chalicelib.services.invitations import Invitations
    from chalicelib.services.ledger import Ledger
    from chalicelib.services.lockout import Lockout
    from chalicelib.services.notifications import Connections, Notifications, Pusher
    from chalicelib.services.offline import AllowanceRelease, Offline
    from chalicelib.services.operations import Operations
    from chalicelib.services.payment_requests import PaymentRequests
    from chalicelib.services.ports import (
        CodeStore,
        FieldCipher,
        FundingRepository,
        LedgerStore,
        Messenger,
        PaymentGateway,
    )
    from chalicelib.services.recovery import Recovery
    from chalicelib.services.statements import Chainer, ChainStore, Statements
    from chalicelib.services.stepup import StepUp


class Container:
    def __init__(self, settings: Settings | None = None, **provided: Any) -> None:
        """`provided` replaces any of the attributes below by name (tests pass fakes this way;
        a wrong name is refused rather than silently ignored)."""
        self._settings = settings
        for name, value in provided.items():
            if not isinstance(getattr(type(self), name, None), cached_property):
                raise TypeError(f"Container has no dependency named {name!r}")
            self.__dict__[name] = value  # what cached_property itself stores

    @cached_property
    def settings(self) -> Settings:
        return self._settings or get_settings()

    def client(self, service: str) -> Any:
        from chalicelib.adapters.aws import client

        return client(service, self.settings)

    @cached_property
    def tables_bound(self) -> bool:
        from chalicelib.adapters.dynamodb.tables import bind

        bind(self.settings)
        return True

    @cached_property
    def secrets(self) -> Any:
        from chalicelib.adapters.secrets import Secrets

        return Secrets(lambda: self.client("ssm"))

    @cached_property
    def access_tokens(self) -> Any:
        """What the auth middleware verifies tokens with."""
        return self.identity

    @cached_property
    def webhook_verifier(self) -> Any:
        from chalicelib.adapters.stripe_webhooks import StripeWebhookVerifier

        return StripeWebhookVerifier(self.secrets.get("STRIPE_WEBHOOK_SECRET"),
                                     self.secrets.get_optional("STRIPE_CONNECT_WEBHOOK_SECRET"))

    # -- identity -------------------------------------------------------------------------------
    @cached_property
    def cipher(self) -> FieldCipher:
        from chalicelib.adapters.crypto import FieldCipher

        return FieldCipher(self.secrets.get("DATA_KEY"), kek_id=self.settings.data_key_id)

    @cached_property
    def blind_index(self) -> Any:
        from chalicelib.adapters.crypto import BlindIndex

        return BlindIndex(self.secrets.get("BLIND_INDEX_KEY"))

    @cached_property
    def jwt_keys(self) -> Any:
        from chalicelib.adapters.tokens import JwtKeys

        return JwtKeys(self.secrets.get("JWT_PRIVATE_KEY"))

    @cached_property
    def users(self) -> Any:
        from chalicelib.adapters.dynamodb.users import DynamoUsers

        assert self.tables_bound
        return DynamoUsers()

    @cached_property
    def sessions(self) -> Any:
        from chalicelib.adapters.dynamodb.sessions import DynamoSessions

        assert self.tables_bound
        return DynamoSessions()

    @cached_property
    def counters(self) -> Any:
        from chalicelib.adapters.dynamodb.counters import DynamoCounters

        assert self.tables_bound
        return DynamoCounters()

    @cached_property
    def lockout(self) -> Any:
        from chalicelib.services.lockout import Lockout

        s = self.settings
        return Lockout(self.counters, s.lockout_max_failures, s.lockout_window_seconds)

    @cached_property
    def login_lockout(self) -> Lockout:
        """Wrong passwords (login, password change): per device token, or per account for
        clients without one (services.identity)."""
        from chalicelib.services.lockout import Lockout

        s = self.settings
        return Lockout(self.counters, s.login_max_failures, s.login_window_seconds)

    def close_connections(self, user_id: str, session_ids: Collection[str]) -> int:
        """Close the WebSockets these (just ended) logins of the user opened."""
        return self.notifications.close_sessions(user_id, session_ids)

    @cached_property
    def mfa(self) -> Any:
        from chalicelib.services.lockout import Lockout
        from chalicelib.services.mfa import Mfa
        from chalicelib.services.sessions import (
            SESSION_PASSWORD_FAILURES,
            SESSION_PASSWORD_WINDOW,
            Logins,
            SessionPasswords,
        )

        # Wrong codes inside a login count for it, with its wrong passwords (Identity.session_passwords).
        per_login = SessionPasswords(Lockout(self.counters, SESSION_PASSWORD_FAILURES, SESSION_PASSWORD_WINDOW),
                                     Logins(self.sessions, self.close_connections).end)
        return Mfa(users=self.users, cipher=self.cipher, lockout=self.lockout, code_hash=self.blind_index,
                   sessions=per_login)

    @cached_property
    def identity(self) -> Any:
        from chalicelib.adapters.passwords import BcryptHasher
        from chalicelib.services.identity import Identity, TokenPolicy

        s = self.settings
        return Identity(users=self.users, sessions=self.sessions, hasher=BcryptHasher(s.bcrypt_rounds),
                        cipher=self.cipher, blind_index=self.blind_index, jwt=self.jwt_keys,
                        policy=TokenPolicy(s.jwt_issuer, s.jwt_audience, s.access_token_ttl),
                        login_lockout=self.login_lockout, mfa=self.mfa, default_currency=s.default_currency,
                        deliver=lambda contact, user: self.invitations.deliver(contact, user),
                        close_connections=self.close_connections, holds_money=self.holds_money)

    @cached_property
    def stepup(self) -> StepUp:
        """The fresh proof (password or otp) of the actions that give a lasting hold on an account."""
        from chalicelib.services.stepup import StepUp

        i = self.identity
        return StepUp(users=i.users, hasher=i.hasher, mfa=self.mfa, passwords=i.session_passwords)

    @cached_property
    def account_closing(self) -> AccountClosing:
        """Closing accounts whose contacts stayed unverified (the scheduled function): no token
        key needed, so it is built without the identity service."""
        from chalicelib.services.closing import AccountClosing
        from chalicelib.services.sessions import Logins

        return AccountClosing(users=self.users, cipher=self.cipher, blind_index=self.blind_index,
                              end_sessions=Logins(self.sessions, self.close_connections).end_all,
                              holds_money=self.holds_money)

    def holds_money(self, user_id: str) -> bool:
        """Whether the account has a balance or a hold in any wallet (closing leaves it there)."""
        return any(w.balance or w.held for w in self.ledger_store.wallets_of(user_id))

    # -- contacts and recovery ------------------------------------------------------------------
    @cached_property
    def messenger(self) -> Messenger:
        from chalicelib.adapters.messaging import AwsMessenger

        return AwsMessenger(self.client, self.settings.mail_from)

    @cached_property
    def codes(self) -> CodeStore:
        from chalicelib.adapters.dynamodb.codes import DynamoCodes

        assert self.tables_bound
        return DynamoCodes()

    @cached_property
    def one_time_codes(self) -> OneTimeCodes:
        from chalicelib.services.codes import OneTimeCodes

        return OneTimeCodes(self.codes, self.blind_index)

    def _limit(self, count: int, window: int) -> Lockout:
        from chalicelib.services.lockout import Lockout

        return Lockout(self.counters, count, window)

    def _send_limit(self) -> Lockout:
        from chalicelib.domain.verification import SENDS_PER_HOUR

        return self._limit(SENDS_PER_HOUR, 3600)

    def _tries_limit(self) -> Lockout:
        from chalicelib.domain.verification import TRIES_PER_DAY

        return self._limit(TRIES_PER_DAY, 86400)

    @cached_property
    def contacts(self) -> ContactVerification:
        from chalicelib.domain.verification import CONTACT_SENDS_PER_HOUR
        from chalicelib.services.contacts import PHONE_CHANGES_PER_DAY, ContactVerification

        return ContactVerification(users=self.users, codes=self.one_time_codes, messenger=self.messenger,
                                   cipher=self.cipher, blind_index=self.blind_index, send_limit=self._send_limit(),
                                   deliver=lambda contact, user: self.invitations.deliver(contact, user),
                                   contact_sends=self._limit(CONTACT_SENDS_PER_HOUR, 3600),
                                   contact_tries=self._tries_limit(),
                                   phone_changes=self._limit(PHONE_CHANGES_PER_DAY, 86400))

    @cached_property
    def recovery(self) -> Recovery:
        from chalicelib.adapters.passwords import BcryptHasher
        from chalicelib.services.recovery import Recovery

        s = self.settings
        return Recovery(users=self.users, sessions=self.sessions, codes=self.one_time_codes,
                        messenger=self.messenger, hasher=BcryptHasher(s.bcrypt_rounds), mfa=self.mfa,
                        blind_index=self.blind_index, send_limit=self._send_limit(),
                        login_lockout=self.login_lockout,
                        deliver=lambda contact, user: self.invitations.deliver(contact, user),
                        cipher=self.cipher, default_currency=s.default_currency,
                        floor_seconds=s.forgot_floor_ms / 1000, close_connections=self.close_connections,
                        holds_money=self.holds_money)

    @cached_property
    def invitations(self) -> Invitations:
        from chalicelib.domain.verification import INVITATION_MESSAGES_PER_DAY
        from chalicelib.services.invitations import Invitations

        return Invitations(ledger=self.ledger, store=self.ledger_store, users=self.users, messenger=self.messenger,
                           cipher=self.cipher, announce_limit=self._limit(INVITATION_MESSAGES_PER_DAY, 86400))

    # -- ledger ---------------------------------------------------------------------------------
    @cached_property
    def ledger_store(self) -> LedgerStore:
        from chalicelib.adapters.dynamodb.ledger import DynamoLedger

        assert self.tables_bound
        return DynamoLedger(self.settings, self.client("dynamodb"))

    @cached_property
    def ledger(self) -> Ledger:
        from chalicelib.domain.verification import INVITES_PER_HOUR
        from chalicelib.services.ledger import LOOKUP_MISSES_PER_HOUR, Ledger, LedgerPolicy
        from chalicelib.services.lockout import DistinctLimit

        s = self.settings
        return Ledger(store=self.ledger_store, users=self.users, blind_index=self.blind_index, cipher=self.cipher,
                      policy=LedgerPolicy(s.currencies, s.default_currency, s.max_transfer_major,
                                          s.daily_limit_major, s.invite_ttl_seconds),
                      announce=lambda sender, invitee, transfer: self.invitations.announce(sender, invitee, transfer),
                      invite_limit=self._limit(INVITES_PER_HOUR, 3600),
                      lookup_limit=DistinctLimit(self.counters, LOOKUP_MISSES_PER_HOUR, 3600),
                      quoted=lambda *args: self.exchanges.pay(*args))

    # -- exchange (docs/exchange.md) ------------------------------------------------------------
    @cached_property
    def fx_store(self) -> FxStore:
        from chalicelib.adapters.dynamodb.fx import DynamoFx

        assert self.tables_bound
        return DynamoFx(self.settings, self.ledger_store)  # type: ignore[arg-type]  # the DynamoDB ledger

    @cached_property
    def exchanges(self) -> Exchanges:
        from chalicelib.services.exchange import ExchangePolicy, Exchanges

        s = self.settings
        return Exchanges(ledger=self.ledger, fx=self.fx_store, policy=ExchangePolicy(s.fx_spread_bps,
                                                                                     s.fx_quote_seconds))

    def fetch_fx_rates(self) -> bytes:
        """The published rates file (FX_RATES_URL): a local copy only on the local and test stages."""
        from chalicelib.adapters import fx_rates

        return fx_rates.fetch(self.settings.fx_rates_url, local=self.settings.stage in ("local", "test"))

    @cached_property
    def payment_requests(self) -> PaymentRequests:
        from chalicelib.adapters.dynamodb.payment_requests import DynamoPaymentRequests
        from chalicelib.domain.payment_request import REQUESTS_PER_HOUR
        from chalicelib.services.payment_requests import PaymentRequests

        assert self.tables_bound
        return PaymentRequests(ledger=self.ledger, store=self.ledger_store, requests=DynamoPaymentRequests(),
                               users=self.users, cipher=self.cipher, create_limit=self._limit(REQUESTS_PER_HOUR, 3600))

    # -- offline payments -----------------------------------------------------------------------
    @cached_property
    def offline_keys(self) -> Any:
        from chalicelib.adapters.offline_keys import OfflineKeys

        return OfflineKeys(self.secrets.get("OFFLINE_SIGNING_KEY"), self.settings.offline_retired_public_keys)

    @cached_property
    def offline_store(self) -> Any:
        from chalicelib.adapters.dynamodb.offline import DynamoOffline

        return DynamoOffline(self.ledger_store)  # type: ignore[arg-type]  # the DynamoDB ledger, by construction

    @cached_property
    def offline(self) -> Offline:
        from chalicelib.domain.offline import OfflinePolicy
        from chalicelib.services.offline import Offline

        s = self.settings
        return Offline(store=self.offline_store, ledger=self.ledger, ledger_store=self.ledger_store,
                       signer=self.offline_keys, mfa=self.mfa, cipher=self.cipher,
                       policy=OfflinePolicy(s.offline_max_allowance_major, s.offline_max_outstanding_major,
                                            s.offline_grace_seconds),
                       issuer=s.jwt_issuer)

    @cached_property
    def allowance_release(self) -> AllowanceRelease:
        from chalicelib.services.offline import AllowanceRelease

        return AllowanceRelease(self.offline_store, self.ledger_store)

    # -- statements (docs/statements.md) ---------------------------------------------------------
    @cached_property
    def chain_store(self) -> ChainStore:
        from chalicelib.adapters.dynamodb.chain import DynamoChain

        assert self.tables_bound
        return DynamoChain(self.settings, self.client("dynamodb"))

    @cached_property
    def chainer(self) -> Chainer:
        from chalicelib.services.statements import Chainer

        return Chainer(self.chain_store)

    @cached_property
    def ledger_keys(self) -> Any:
        from chalicelib.adapters.ledger_keys import LedgerKeys

        return LedgerKeys(self.secrets.get("LEDGER_SIGNING_KEY"), self.settings.ledger_retired_public_keys)

    @cached_property
    def statements(self) -> Statements:
        from chalicelib.services.statements import Statements

        # The key ring is built on first use: a statement without a checkpoint to sign or check
        # never reads the secret.
        return Statements(self.chain_store, _Lazy(lambda: self.ledger_keys),
                          own_wallet=lambda user_id, wallet_id: self.ledger.wallet(user_id, wallet_id))

    # -- funding --------------------------------------------------------------------------------
    @cached_property
    def stripe(self) -> PaymentGateway:
        from chalicelib.adapters.stripe_gateway import StripeGateway

        return StripeGateway(self.secrets.get("STRIPE_API_KEY"), self.settings.stripe_api_base,
                             platform_payouts=self.settings.payout_mode == "platform")

    @cached_property
    def funding_repo(self) -> FundingRepository:
        from chalicelib.adapters.dynamodb.funding import DynamoFunding

        assert self.tables_bound
        return DynamoFunding()

    @cached_property
    def funding(self) -> Funding:
        from chalicelib.services.funding import Funding

        return Funding(repo=self.funding_repo, gateway=self.stripe, ledger=self.ledger, mfa=self.mfa,
                       cipher=self.cipher)

    def operations(self, actor: str) -> Operations:
        """The operators' use cases, acting as `actor`: the caller's ARN that API Gateway verified
        (built only by the admin function, chalicelib/api/admin.py)."""
        from chalicelib.adapters.dynamodb.audit import DynamoAudit
        from chalicelib.services.operations import Operations

        assert self.tables_bound
        return Operations(ledger=self.ledger, scans=self.ledger_store,  # type: ignore[arg-type]  # DynamoLedger
                          offline=self.offline_store, users=self.users,
                          withdrawals=self.funding, repo=self.funding_repo,  # type: ignore[arg-type]  # DynamoFunding
                          gateway=self.stripe,  # type: ignore[arg-type]  # the StripeGateway
                          audit_log=DynamoAudit(), cipher=self.cipher, actor=actor,
                          verify_chains=lambda: self.statements.verify_ledger())

    def id_token_verifier(self, provider: str) -> Any:
        """The OIDC verifier of a configured provider, or None."""
        from chalicelib.adapters.oidc import OidcVerifier

        cache = self.__dict__.setdefault("_oidc", {})
        if provider not in cache:
            conf = self.settings.oidc.get(provider)
            cache[provider] = OidcVerifier(*conf) if conf else None
        return cache[provider]

    @cached_property
    def event_queue(self) -> Any:
        from chalicelib.adapters.event_queue import SqsEventQueue

        if not self.settings.stripe_events_queue_url:
            raise RuntimeError("STRIPE_EVENTS_QUEUE_URL is not configured")
        return SqsEventQueue(self.settings.stripe_events_queue_url, self.client("sqs"))

    @cached_property
    def stripe_event_log(self) -> Any:
        from chalicelib.adapters.dynamodb.stripe_events import DynamoStripeEventLog

        assert self.tables_bound
        return DynamoStripeEventLog()

    # -- notifications --------------------------------------------------------------------------
    @cached_property
    def notifications(self) -> Notifications:
        from chalicelib.adapters.dynamodb.notifications import DynamoNotifications
        from chalicelib.services import sending
        from chalicelib.services.notifications import Notifications
        from chalicelib.services.people import People

        # Everything keyed is reached lazily: each function loads only the secrets its path
        # uses (the template grants each exactly those).
        return Notifications(inbox=DynamoNotifications(lambda: self.cipher), connections=self.connections,
                             people=lambda: People(self.users, self.cipher),
                             transfer=lambda transfer_id: self.ledger_store.get_transfer(transfer_id),
                             verify=lambda token: self.access_tokens.verify_access(token),
                             session_live=lambda session_id: self.sessions.is_active(session_id, int(time.time())),
                             pusher=self.pusher,
                             mail=lambda user_id, message: sending.email_account(
                                 self.users, self.cipher, self.messenger, user_id, message, what="SecurityEmail"))

    @cached_property
    def connections(self) -> Connections:
        from chalicelib.adapters.dynamodb.notifications import DynamoConnections

        assert self.tables_bound
        return DynamoConnections()

    @cached_property
    def pusher(self) -> Pusher | None:
        """Live push to WebSocket connections, when the stage has a WebSocket API."""
        from chalicelib.adapters.websocket import ApiGatewayPusher, management_client

        endpoint = self.settings.ws_management_endpoint
        return ApiGatewayPusher(lambda url: management_client(self.settings, url), endpoint) if endpoint else None


class _Lazy:
    """An object built on first attribute access (a secret read only by the paths that use it)."""

    def __init__(self, build: Any) -> None:
        self._build = build

    def __getattr__(self, name: str) -> Any:
        return getattr(self._build(), name)


_container: Container | None = None


def get_container() -> Container:
    global _container
    if _container is None:
        _container = Container()
    return _container


def set_container(container: Container | None) -> None:
    """Replace the container (tests); None resets to a fresh default on next use."""
    global _container
    _container = container
