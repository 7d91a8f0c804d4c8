"""The one error hierarchy of the product.

Every error a client can see is a `DomainError` with a stable snake_case `code` (the contract's
error code). The HTTP status for each code lives in exactly one place, `chalicelib.api.errors`, so
the domain stays free of transport concerns.
"""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error that is part of the API contract."""

    code = "internal_error"
    default_message = "An internal error occurred."

    def __init__(self, message: str | None = None, *, details: Any = None) -> None:
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)


class InvalidRequest(DomainError):
    """The request is malformed or a field is missing or invalid; `details` names the fields."""

    code = "invalid_request"
    default_message = "The request is invalid."


class Unauthorized(DomainError):
    """No valid access token was presented (missing, forged, expired, revoked)."""

    code = "unauthorized"
    default_message = "A valid access token is required."


class NotFound(DomainError):
    """The resource does not exist, or belongs to someone else (guarantee 9: 404, never 403)."""

    code = "not_found"
    default_message = "The resource was not found."


class MethodNotAllowed(DomainError):
    """The path exists but not with this HTTP method."""

    code = "method_not_allowed"
    default_message = "This method is not allowed on this path."


class PayloadTooLarge(DomainError):
    """The request body is larger than the API accepts (64 KiB)."""

    code = "payload_too_large"
    default_message = "The request body is too large (at most 64 KiB)."


class UnsupportedMediaType(DomainError):
    """The request body is not JSON."""

    code = "unsupported_media_type"
    default_message = "The request body must be application/json."


class Conflict(DomainError):
    """The request conflicts with the current state of a resource."""

    code = "conflict"
    default_message = "The request conflicts with the current state."


class TooManyRequests(DomainError):
    """Too many attempts; the client should wait `retry_after` seconds."""

    code = "too_many_requests"
    default_message = "Too many requests; try again later."

    def __init__(self, message: str | None = None, *, retry_after: int = 60,
                 details: Any = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class ServiceUnavailable(DomainError):
    """A dependency (database, queue, payment provider) could not be reached; safe to retry."""

    code = "service_unavailable"
    default_message = "A dependency is unavailable; try again."


class InvalidWebhook(DomainError):
    """A webhook whose signature is missing, forged, stale or does not match its body."""

    code = "invalid_signature"
    default_message = "The webhook signature is invalid."


class InvalidCredentials(DomainError):
    """Login failed. Unknown account and wrong password are deliberately indistinguishable."""

    code = "invalid_credentials"
    default_message = "The credentials are not valid."


class EmailTaken(DomainError):
    """Another account already uses this e-mail address."""

    code = "email_taken"
    default_message = "An account with this e-mail address already exists."


class PhoneTaken(DomainError):
    """Another account already uses this phone number."""

    code = "phone_taken"
    default_message = "An account with this phone number already exists."


class MfaRequired(DomainError):
    """A sensitive action was requested without the `otp` field."""

    code = "mfa_required"
    default_message = "This action needs a one-time code (otp)."


class MfaInvalid(DomainError):
    """The one-time code is wrong, expired or was already used."""

    code = "mfa_invalid"
    default_message = "The one-time code is not valid."


class MfaNotEnrolled(DomainError):
    """The action needs two-factor authentication, which the account has not turned on."""

    code = "mfa_not_enrolled"
    default_message = "Two-factor authentication is not enabled for this account."


class MfaAlreadyEnabled(DomainError):
    """Enrollment was requested while two-factor authentication is already on."""

    code = "mfa_already_enabled"
    default_message = "Two-factor authentication is already enabled."


class PayoutAccountRequired(DomainError):
    """A withdrawal needs the user's payout account (POST /payout-account) first."""

    code = "payout_account_required"
    default_message = "Set up a payout account first (POST /payout-account)."


class CardDeclined(DomainError):
    """The card was declined by the issuer (the provider's decline code in `details`)."""

    code = "card_declined"
    default_message = "The card was declined."


class PaymentProviderError(DomainError):
    """The payment provider refused the request for a reason that is not the caller's input."""

    code = "payment_provider_error"
    default_message = "The payment provider refused the request."


class InvalidCode(DomainError):
    """A verification or reset code that does not match (an unknown e-mail answers the same)."""

    code = "invalid_code"
    default_message = "The code is not correct."


class CodeExpired(DomainError):
    """The code is past its validity, was replaced by a newer one, was never sent, or was
    burned by too many wrong tries: ask for a new one."""

    code = "code_expired"
    default_message = "The code has expired; ask for a new one."


class AlreadyVerified(DomainError):
    """The contact is verified already."""

    code = "already_verified"
    default_message = "This contact is already verified."


class TransferNotCancelable(DomainError):
    """Only an unclaimed invitation transfer can be canceled, by its sender."""

    code = "transfer_not_cancelable"
    default_message = "This transfer can no longer be canceled."


class RequestNotPending(DomainError):
    """A payment request that is paid, declined, canceled or expired cannot change again."""

    code = "request_not_pending"
    default_message = "This payment request is no longer pending."


class AccountFrozen(DomainError):
    """An operator froze the account: money may still come in, none may leave (docs/operations.md)."""

    code = "account_frozen"
    default_message = "This account is frozen: it can receive money but not send or withdraw any."


class VerificationRequired(DomainError):
    """The account has no verified e-mail or phone yet: until it has, it may only read, verify
    its contacts, change its password and manage its sessions (pre-account hijacking: an
    account nobody proved owning must not gather payment set-up, 2FA or money)."""

    code = "verification_required"
    default_message = "Verify your e-mail address or phone number first (POST /me/verify)."


class ReauthRequired(DomainError):
    """A step-up action (2FA on, phone change, payout account, offline device) was requested
    without the fresh proof it needs: `otp` when 2FA is on, else `password`."""

    code = "reauth_required"
    default_message = "Confirm it is you: send your password, or a one-time code (otp) when 2FA is on."


class ReauthInvalid(DomainError):
    """The step-up proof (password or one-time code) is wrong or was already used."""

    code = "reauth_invalid"
    default_message = "The password or one-time code is not correct."


class IdempotencyKeyReused(DomainError):
    """The Idempotency-Key was used before with a different request body."""

    code = "idempotency_key_reused"
    default_message = "This Idempotency-Key was used with a different request."
