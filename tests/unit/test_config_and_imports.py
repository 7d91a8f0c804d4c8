import subprocess
import sys

import pytest

from chalicelib.config import Settings


def test_defaults():
    s = Settings.from_env({})
    assert s.currencies == ("USD", "EUR", "GBP", "SGD", "JPY") and s.default_currency == "USD"
    assert s.dynamodb_endpoint is None and s.table_prefix == "ewallet-local-"


def test_currencies_from_env():
    s = Settings.from_env({"CURRENCIES": "eur, JPY".upper(), "STAGE": "prod"})
    assert s.currencies == ("EUR", "JPY") and s.default_currency == "EUR"
    assert s.table_prefix == "ewallet-prod-"


@pytest.mark.parametrize("env", [{"CURRENCIES": "USD,XXX"}, {"DEFAULT_CURRENCY": "CHF"}])
def test_bad_currency_config_fails_loudly(env):
    with pytest.raises(ValueError):
        Settings.from_env(env)


def fresh_import(code: str) -> str:
    """What `code` prints in a fresh interpreter with no stack and no credentials (a cold start)."""
    env = {"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "", "AWS_EC2_METADATA_DISABLED": "true"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.removesuffix("\n")  # one newline: an empty last line is an answer


def test_importing_the_app_touches_no_aws_and_no_heavy_library():
    # A fresh interpreter with no stack and no credentials: the import must succeed and must
    # not pull in boto3/botocore, PynamoDB, Stripe or the Encryption SDK (cold start).
    code = (
        "import sys, app\n"
        "heavy = ['boto3', 'botocore', 'pynamodb', 'stripe', 'aws_encryption_sdk', 'bcrypt']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    assert fresh_import(code) == ""


def test_importing_the_app_leaves_the_jobs_and_the_validators_for_later():
    # What an API cold start does not need waits for its first use (bench/cold_start.py): the
    # scheduled and queued jobs (and the Stripe event handling they bring), the ledger's rules,
    # the services, the use cases' commands and results (the routes name them for the type
    # checker; a route imports its own when it runs), and the pydantic validators of every
    # route (built on first use).
    code = (
        "import sys, app\n"
        "from chalicelib.api.schemas import Schema\n"
        "later = ['chalicelib.api.events', 'chalicelib.services.funding', 'chalicelib.services.ledger',\n"
        "         'chalicelib.domain.ledger', 'chalicelib.domain.wallet', 'chalicelib.services.ports',\n"
        "         'chalicelib.adapters', 'chalicelib.domain.commands', 'chalicelib.domain.results',\n"
        "         'chalicelib.services.stripe_events']\n"
        "print(','.join(m for m in later if m in sys.modules))\n"
        "def models(cls):\n"
        "    for sub in cls.__subclasses__():\n"
        "        yield sub\n"
        "        yield from models(sub)\n"
        "print(len(list(models(Schema))))\n"
        "print(','.join(sorted({m.__name__ for m in models(Schema) if m.__pydantic_complete__})))\n"
    )
    loaded, count, built = fresh_import(code).split("\n")
    assert loaded == ""
    assert int(count) > 50 and built == ""
