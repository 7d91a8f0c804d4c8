"""Settings, read lazily from the environment.

`.chalice/config.json` sets the per-stage environment in AWS; the local stack passes the same
variables to `chalice local` and the event pump. Nothing here runs at import time: call
`get_settings()` when a value is needed.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from chalicelib.domain.money import EXPONENTS


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _bounded(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    value = int(env.get(name, default))
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}")
    return value


_PEM_END = "-----END PUBLIC KEY-----"


def _pems(value: str) -> tuple[str, ...]:
    """Public keys in PEM, one after another in one variable."""
    return tuple(part.strip() + "\n" + _PEM_END + "\n" for part in value.split(_PEM_END) if part.strip())


_OIDC_DEFAULTS = {
    "google": ("https://accounts.google.com", "https://www.googleapis.com/oauth2/v3/certs"),
    "facebook": ("https://www.facebook.com", "https://limited.facebook.com/.well-known/oauth/openid/jwks/"),
}


def _oidc(env: Mapping[str, str]) -> dict[str, tuple[str, str, str]]:
    out = {}
    for provider, (issuer, jwks) in _OIDC_DEFAULTS.items():
        p = provider.upper()
        audience = env.get(f"{p}_AUDIENCE") or env.get("OIDC_AUDIENCE")
        if audience:
            out[provider] = (env.get(f"{p}_ISSUER", issuer), audience, env.get(f"{p}_JWKS_URL", jwks))
    return out


@dataclass(frozen=True)
class Settings:
    stage: str = "local"
    region: str = "us-east-1"
    # Endpoints are set only for the local stack; in AWS they stay None and boto3 uses the
    # regional endpoints.
    dynamodb_endpoint: str | None = None
    aws_endpoint: str | None = None
    table_prefix: str = "ewallet-local-"
    stripe_events_queue_url: str | None = None
    data_key_id: str = "kek-1"
    stripe_api_base: str | None = None
    # "connect": pay out to each user's Stripe Connect account (AWS); "platform": from the
    # platform balance (the local stand-in has no Connect).
    payout_mode: str = "connect"
    currencies: tuple[str, ...] = ("USD", "EUR", "GBP", "SGD", "JPY")
    default_currency: str = "USD"
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    log_level: str = "INFO"
    jwt_issuer: str = "ewallet-local"
    jwt_audience: str = "ewallet-api"
    access_token_ttl: int = 900
    bcrypt_rounds: int = 12
    lockout_max_failures: int = 5  # wrong OTP codes (2FA) per account
    lockout_window_seconds: int = 900
    # Wrong passwords per counter: clients without a device token for an account share one,
    # each device token has its own (services.identity, lockout without denial of service).
    login_max_failures: int = 10
    login_window_seconds: int = 900
    max_transfer_major: int = 1_000_000
    daily_limit_major: int = 1_000_000
    stale_hold_seconds: int = 3 * 86400  # reconciliation reports holds pending longer than this
    invite_ttl_seconds: int = 30 * 86400  # money for an unverified contact waits this long
    mail_from: str = "no-reply@ewallet.example"  # SES: a verified identity of the account
    # The WebSocket API's management endpoint (https://<api>.execute-api.<region>.amazonaws.com/<stage>,
    # from the template; locally the dev stack's server). None: nothing is pushed live.
    ws_management_endpoint: str | None = None
    # Offline allowances (domain.offline): limits in major units of the allowance's currency.
    offline_max_allowance_major: int = 500
    offline_max_outstanding_major: int = 1000
    offline_grace_seconds: int = 72 * 3600
    # Public PEMs of retired offline keys, kept until every allowance they certified has closed.
    offline_retired_public_keys: tuple[str, ...] = field(default_factory=tuple)
    # Public PEMs of retired ledger keys, kept while checkpoints they signed may be checked.
    ledger_retired_public_keys: tuple[str, ...] = field(default_factory=tuple)
    forgot_floor_ms: int = 400  # every /auth/password/forgot takes at least this long
    # Exchange (docs/exchange.md): where the reference rates are published (the ECB's daily file in
    # AWS; the local stack's copy), the spread in basis points, how long a quote is guaranteed.
    fx_rates_url: str = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml"
    fx_spread_bps: int = 50
    fx_quote_seconds: int = 30
    # provider -> (issuer, audience, JWKS URL); a provider without an audience is disabled.
    oidc: dict[str, tuple[str, str, str]] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        currencies = _csv(env.get("CURRENCIES", "")) or cls.currencies
        unknown = [c for c in currencies if c not in EXPONENTS]
        if unknown:
            raise ValueError(f"CURRENCIES has unknown currencies: {unknown}")
        default_currency = env.get("DEFAULT_CURRENCY", currencies[0] if "USD" not in currencies else "USD")
        if default_currency not in currencies:
            raise ValueError("DEFAULT_CURRENCY must be one of CURRENCIES")
        stage = env.get("STAGE", "local")
        return cls(
            stage=stage,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            dynamodb_endpoint=env.get("DYNAMODB_ENDPOINT") or None,
            aws_endpoint=env.get("AWS_ENDPOINT") or None,
            table_prefix=env.get("TABLE_PREFIX", f"ewallet-{stage}-"),
            stripe_events_queue_url=env.get("STRIPE_EVENTS_QUEUE_URL") or None,
            data_key_id=env.get("DATA_KEY_ID", "kek-1"),
            stripe_api_base=env.get("STRIPE_API_BASE") or None,
            payout_mode=env.get("PAYOUT_MODE", "platform" if stage == "local" else "connect"),
            currencies=currencies,
            default_currency=default_currency,
            cors_origins=_csv(env.get("CORS_ORIGINS", "")),
            log_level=env.get("LOG_LEVEL", "INFO"),
            jwt_issuer=env.get("JWT_ISSUER", f"ewallet-{stage}"),
            jwt_audience=env.get("JWT_AUDIENCE", "ewallet-api"),
            access_token_ttl=_bounded(env, "ACCESS_TOKEN_TTL", 900, 60, 900),
            # bcrypt below 12 only for the unit-test stage (docs/architecture.md).
            bcrypt_rounds=_bounded(env, "BCRYPT_ROUNDS", 12, 4 if stage == "test" else 12, 16),
            lockout_max_failures=_bounded(env, "LOCKOUT_MAX_FAILURES", 5, 1, 100),
            lockout_window_seconds=_bounded(env, "LOCKOUT_WINDOW_SECONDS", 900, 1, 86400),
            login_max_failures=_bounded(env, "LOGIN_MAX_FAILURES", 10, 1, 100),
            login_window_seconds=_bounded(env, "LOGIN_WINDOW_SECONDS", 900, 1, 86400),
            max_transfer_major=_bounded(env, "MAX_TRANSFER_MAJOR", 1_000_000, 1, 10**12),
            daily_limit_major=_bounded(env, "DAILY_LIMIT_MAJOR", 1_000_000, 1, 10**12),
            stale_hold_seconds=_bounded(env, "STALE_HOLD_SECONDS", 3 * 86400, 60, 90 * 86400),
            invite_ttl_seconds=_bounded(env, "INVITE_TTL_SECONDS", 30 * 86400, 60, 365 * 86400),
            mail_from=env.get("MAIL_FROM", "no-reply@ewallet.example"),
            ws_management_endpoint=env.get("WS_MANAGEMENT_ENDPOINT") or None,
            forgot_floor_ms=_bounded(env, "FORGOT_FLOOR_MS", 400, 0, 5000),
            fx_rates_url=env.get("FX_RATES_URL") or cls.fx_rates_url,
            fx_spread_bps=_bounded(env, "FX_SPREAD_BPS", 50, 0, 1000),
            fx_quote_seconds=_bounded(env, "FX_QUOTE_SECONDS", 30, 30, 3600),
            offline_max_allowance_major=_bounded(env, "OFFLINE_MAX_ALLOWANCE_MAJOR", 500, 1, 10**9),
            offline_max_outstanding_major=_bounded(env, "OFFLINE_MAX_OUTSTANDING_MAJOR", 1000, 1, 10**9),
            offline_grace_seconds=_bounded(env, "OFFLINE_GRACE_SECONDS", 72 * 3600, 0, 30 * 86400),
            offline_retired_public_keys=_pems(env.get("OFFLINE_RETIRED_PUBLIC_KEYS", "")),
            ledger_retired_public_keys=_pems(env.get("LEDGER_RETIRED_PUBLIC_KEYS", "")),
            oidc=_oidc(env),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
