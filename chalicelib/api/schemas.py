"""Request and response models shared by several blueprints."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Body(BaseModel):
    """Base of request bodies: unknown fields are ignored, known ones validated."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: Any | None = None


class ErrorBody(BaseModel):
    error: ErrorInfo


class Health(BaseModel):
    status: str


class Received(BaseModel):
    received: bool
