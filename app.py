"""The Chalice app: blueprints and event handlers wired to services. No logic lives here."""
from __future__ import annotations

import os
from typing import Any

from chalice import Chalice, Rate

from chalicelib.api import auth, events, funding, identity, system, wallets, webhooks
from chalicelib.container import get_container

app = Chalice(app_name="ewallet")
app.api.cors = False

auth.install(app, lambda: get_container().access_tokens, lambda: get_container().settings.cors_origins)
app.register_blueprint(system.bp)
app.register_blueprint(identity.bp)
app.register_blueprint(wallets.bp)
app.register_blueprint(funding.bp)
app.register_blueprint(webhooks.bp)
system.add_fallback_routes(app)  # last: it covers the paths registered above


@app.on_sqs_message(queue=os.environ.get("STRIPE_EVENTS_QUEUE_NAME", "ewallet-stripe-events"),
                    batch_size=10, name="stripe_events")
def stripe_events(event: Any) -> dict[str, Any]:
    return events.process_stripe_events([r.to_dict() for r in event])


@app.lambda_function(name="notifications")
def notifications(event: dict[str, Any], context: Any) -> dict[str, int]:
    # Wired to the DynamoDB stream by the deployment template (docs/architecture.md).
    return {"handled": events.process_stream(event.get("Records", []))}


@app.schedule(Rate(1, unit=Rate.HOURS), name="reconcile")
def reconcile(event: Any) -> dict[str, Any]:
    return events.reconcile_ledger()


@app.schedule(Rate(15, unit=Rate.MINUTES), name="resume_withdrawals")
def resume_withdrawals(event: Any) -> dict[str, int]:
    return events.resume_withdrawals()


@app.schedule(Rate(15, unit=Rate.MINUTES), name="sweep_invitations")
def sweep_invitations(event: Any) -> dict[str, int]:
    return events.sweep_invitations()
