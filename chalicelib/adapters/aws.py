"""boto3 clients pointed at AWS, or at the local stack's emulators when endpoints are configured."""
from __future__ import annotations

from typing import Any

from chalicelib.config import Settings

_DYNAMODB_SERVICES = {"dynamodb", "dynamodbstreams"}


def client(service: str, settings: Settings) -> Any:
    import boto3  # lazy: keeps boto3 out of the import path of app.py
    from botocore.config import Config

    endpoint = settings.dynamodb_endpoint if service in _DYNAMODB_SERVICES else settings.aws_endpoint
    # DynamoDB validates every request itself; botocore's client-side pass over each request's
    # parameters costs ~0.8 ms on a transfer's transaction (bench/transfer), on the money path.
    config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=3, read_timeout=10,
                    parameter_validation=service not in _DYNAMODB_SERVICES)
    return boto3.session.Session().client(service, region_name=settings.region,
                                          endpoint_url=endpoint, config=config)
