"""The Chalice app: blueprints and event handlers wired to services. No logic lives here."""
from __future__ import annotations

import os
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from chalice import Chalice, Rate
from chalice.app import WebsocketEvent

from chalicelib.api import (
    auth,
    funding,
    fx,
    identity,
    inbox,
    offline,
    payment_requests,
    statements,
    system,
    wallets,
    webhooks,
)
from chalicelib.container import get_container


def _events() -> ModuleType:
    """The scheduled and queued jobs' module, imported by the first job that runs: the API's
    cold start never needs it (nor the Stripe event handling it brings)."""
    from chalicelib.api import events

    return events


app = Chalice(app_name="ewallet")
app.api.cors = False
app.experimental_feature_flags.update(["WEBSOCKETS"])  # the live push of notifications
# Statements as PDF (docs/statements.md): sent base64-encoded, which API Gateway (and Chalice's
# local server) turn back into bytes for a request that accepts application/pdf.
app.api.binary_types.append("application/pdf")

auth.install(app, lambda: get_container().access_tokens, lambda: get_container().settings.cors_origins)
app.register_blueprint(system.bp)
app.register_blueprint(identity.bp)
app.register_blueprint(wallets.bp)
app.register_blueprint(funding.bp)
app.register_blueprint(payment_requests.bp)
app.register_blueprint(inbox.bp)
app.register_blueprint(offline.bp)
app.register_blueprint(fx.bp)
app.register_blueprint(statements.bp)
app.register_blueprint(webhooks.bp)
system.add_fallback_routes(app)  # last: it covers the paths registered above


@app.on_sqs_message(queue=os.environ.get("STRIPE_EVENTS_QUEUE_NAME", "ewallet-stripe-events"),
                    batch_size=10, name="stripe_events")
def stripe_events(event: Any) -> dict[str, Any]:
    return _events().process_stripe_events([r.to_dict() for r in event])


@app.lambda_function(name="notifications")
def notifications(event: dict[str, Any], context: Any) -> dict[str, int]:
    # Wired to the DynamoDB stream by the deployment template (docs/architecture.md).
    return {"handled": _events().process_stream(event.get("Records", []))}


@app.lambda_function(name="chain_entries")
def chain_entries(event: dict[str, Any], context: Any) -> dict[str, int]:
    # Wired to the entries table's stream by the deployment template (docs/statements.md).
    return {"chained": statements.chain_entries(event.get("Records", []))}


@app.lambda_function(name="admin")
def admin(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # The operators' commands, behind the admin REST API (AWS_IAM only; deploy/template.py):
    # who acts is the caller API Gateway verified, never the body (docs/operations.md).
    from chalicelib.api import admin as admin_api

    return admin_api.handle(event, lambda actor: get_container().operations(actor))


@app.on_ws_connect()
def ws_connect(event: WebsocketEvent) -> dict[str, Any]:
    return inbox.ws_connect(event.connection_id, event.to_dict().get("queryStringParameters"))


@app.on_ws_message()
def ws_message(event: WebsocketEvent) -> None:
    # Nothing to answer: the socket is for pushing notifications to the client.
    return None


@app.on_ws_disconnect()
def ws_disconnect(event: WebsocketEvent) -> dict[str, Any]:
    return inbox.ws_disconnect(event.connection_id)


@app.schedule(Rate(1, unit=Rate.HOURS), name="reconcile")
def reconcile(event: Any) -> dict[str, Any]:
    return _events().reconcile_ledger()


@app.schedule(Rate(15, unit=Rate.MINUTES), name="resume_withdrawals")
def resume_withdrawals(event: Any) -> Mapping[str, object]:
    return _events().resume_withdrawals()


@app.schedule(Rate(15, unit=Rate.MINUTES), name="sweep_invitations")
def sweep_invitations(event: Any) -> Mapping[str, object]:
    return _events().sweep_invitations()


@app.schedule(Rate(1, unit=Rate.HOURS), name="expire_payment_requests")
def expire_payment_requests(event: Any) -> dict[str, int]:
    return _events().expire_payment_requests()


@app.schedule(Rate(1, unit=Rate.HOURS), name="close_unverified_accounts")
def close_unverified_accounts(event: Any) -> Mapping[str, object]:
    return _events().close_unverified_accounts()


@app.schedule(Rate(1, unit=Rate.HOURS), name="fetch_fx_rates")
def fetch_fx_rates(event: Any) -> Mapping[str, object]:
    # The ECB publishes once a working day (~16:00 CET): hourly picks it up within the hour.
    return fx.fetch_rates()


@app.schedule(Rate(15, unit=Rate.MINUTES), name="checkpoint_ledger")
def checkpoint_ledger(event: Any) -> Mapping[str, object]:
    # The contract asks for at least hourly; every 15 minutes bounds the unsigned tail tighter.
    return statements.make_checkpoint()


@app.schedule(Rate(15, unit=Rate.MINUTES), name="release_allowances")
def release_allowances(event: Any) -> dict[str, int]:
    return _events().release_allowances()
