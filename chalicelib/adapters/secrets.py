"""Secrets: from the environment (local stack, dev-only values) or from SSM Parameter Store.

`get("JWT_PRIVATE_KEY")` returns the env var `JWT_PRIVATE_KEY` if set, else the SecureString
parameter named by `JWT_PRIVATE_KEY_PARAM`, fetched once per Lambda container (SSM decrypts it
with KMS). Values never appear in logs or errors.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

# Every secret the app reads; the deployment template grants each function exactly these.
SECRET_NAMES = ("JWT_PRIVATE_KEY", "DATA_KEY", "BLIND_INDEX_KEY", "STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET",
                "STRIPE_CONNECT_WEBHOOK_SECRET", "OFFLINE_SIGNING_KEY", "LEDGER_SIGNING_KEY")
# Secrets a stage may leave out (the Connect endpoint exists only where payouts use Connect).
OPTIONAL = ("STRIPE_CONNECT_WEBHOOK_SECRET",)


class MissingSecret(RuntimeError):
    """A secret is neither in the environment nor named as an SSM parameter."""


class Secrets:
    def __init__(self, ssm: Callable[[], Any], env: Mapping[str, str] | None = None) -> None:
        self._ssm = ssm
        self._env = os.environ if env is None else env
        self._cache: dict[str, str] = {}

    def get_optional(self, name: str) -> str | None:
        """An optional secret's value, or None when the stage does not configure it."""
        if name not in OPTIONAL:
            raise MissingSecret(f"{name} is not an optional secret")
        if not self._env.get(name) and not self._env.get(f"{name}_PARAM"):
            return None
        return self.get(name)

    def get(self, name: str) -> str:
        if name not in SECRET_NAMES:
            raise MissingSecret(f"{name} is not a known secret (add it to SECRET_NAMES)")
        if name in self._cache:
            return self._cache[name]
        value = self._env.get(name)
        if not value:
            param = self._env.get(f"{name}_PARAM")
            if not param:
                raise MissingSecret(f"{name} is not configured (set {name} or {name}_PARAM)")
            value = self._ssm().get_parameter(Name=param, WithDecryption=True)["Parameter"]["Value"]
        self._cache[name] = value
        return value
