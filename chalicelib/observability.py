"""Structured logs and metrics (AWS Lambda Powertools), in one place.

Logs are JSON lines carrying the request id, the caller's user id and, for events, the event
type; they never carry personal data, tokens, card data or secrets (a test reads every line the
local stack wrote to make sure). Metrics go to CloudWatch in Embedded Metric Format: counts of
transfers, top-ups, withdrawals, webhook rejections and failures, transaction conflicts and
reconciliation drift. Powertools is imported on first use (~40 ms).
"""
from __future__ import annotations

import logging
import os
import sys
from functools import lru_cache
from typing import Any

SERVICE = "ewallet"


@lru_cache(maxsize=1)
def logger() -> Any:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

    log = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE),
                 level=os.environ.get("LOG_LEVEL", "INFO"))
    # Our modules log through the standard library: give them the same JSON format and keys.
    logging.getLogger("chalicelib").setLevel(log.log_level)
    copy_config_to_registered_loggers(source_logger=log, include={"chalicelib"})
    return log


@lru_cache(maxsize=1)
def _metrics() -> Any:
    from aws_lambda_powertools import Metrics

    return Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", SERVICE), service=SERVICE)


def bind(**keys: Any) -> None:
    """Keys every following log line of this invocation carries (request_id, user_id, ...)."""
    logger().append_keys(**{k: v for k, v in keys.items() if v is not None})


def unbind(*keys: str) -> None:
    logger().remove_keys(list(keys))


def count(name: str, value: int = 1) -> None:
    from aws_lambda_powertools.metrics import MetricUnit

    _metrics().add_metric(name=name, unit=MetricUnit.Count, value=value)


def flush() -> None:
    """Write the invocation's metrics (one EMF line), if any were counted."""
    metrics = _metrics()
    if metrics.metric_set:
        metrics.flush_metrics()
        # Powertools prints the EMF line; to a file or a pipe stdout is block-buffered, and the
        # line would wait for the next log line (or a frozen container's thaw) to be read.
        sys.stdout.flush()
