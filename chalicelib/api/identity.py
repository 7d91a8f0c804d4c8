"""Identity routes: accounts, tokens, profile, password and TOTP two-factor authentication."""
from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from chalice import Blueprint, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator
from pydantic.json_schema import SkipJsonSchema

from chalicelib.api import refresh_cookie
from chalicelib.api.errors import error_response
from chalicelib.api.routing import Call, Reply, route
from chalicelib.api.schemas import Body, Email, NewPassword, Phone, Schema
from chalicelib.api.wallets import absent, not_null
from chalicelib.container import get_container
from chalicelib.domain.errors import InvalidRequest, NotFound, Unauthorized

bp = Blueprint(__name__)

Name = Annotated[str, Field(min_length=1, max_length=100)]
# StrictInt: JSON's true/false are no code (lax mode would read them as 1/0).
Otp = Annotated[str | StrictInt, Field(description="A current TOTP code or an unused recovery code")]


class RegisterIn(Body):
    email: Email
    password: NewPassword
    phone: Phone | None = None
    first_name: Name | None = None
    last_name: Name | None = None


class UserOut(Schema):
    user_id: str
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    mfa_enabled: bool
    email_verified: bool
    phone_verified: bool
    created_at: str


class RegisterOut(Schema):
    user: UserOut


class LoginIn(Body):
    # An e-mail, or else a phone: whichever is given (not null, not empty) is the one looked up.
    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"required": ["email"], "properties": {"email": {"type": "string", "minLength": 1}}},
        {"required": ["phone"],
         "properties": {"phone": {"type": "string", "minLength": 1}, "email": {"type": "null"}}}]})

    email: Email | None = None
    phone: Phone | None = None
    password: Annotated[str, Field(max_length=1024)]
    device_token: Annotated[str, Field(max_length=512, description=(
        "The device_token this client got from its last login to this account (valid 90 days): its own "
        "failures lock it, not others'"))] | None = None


class TokensOut(Schema):
    access_token: str
    refresh_token: Annotated[str, Field(description=(
        f"Always, unless the request had `{refresh_cookie.HEADER}: 1` (the web wallet): then it is in an "
        f"HttpOnly cookie, `{refresh_cookie.NAME}`, that no script can read"))] | SkipJsonSchema[None] = absent()
    token_type: str
    expires_in: int


class LoginOut(TokensOut):
    device_token: str = Field(description="Keep it (per browser or phone) and send it on the next login")


class SessionOut(Schema):
    session_id: str
    created_at: str
    last_used_at: str = Field(description="The last sign-in or token refresh (not every request)")
    user_agent: str | None
    current: bool = Field(description="The login making this request")


class SessionsOut(Schema):
    items: list[SessionOut]


class SocialTokensOut(TokensOut):
    created: bool


class RefreshIn(Body):
    # A body that is sent has the token; it may be left out only by the web wallet, whose cookie
    # (with the header) stands in for it: a credential, which no schema of the body can describe.
    model_config = ConfigDict(json_schema_extra={"required": ["refresh_token"]})

    refresh_token: Annotated[str, Field(max_length=refresh_cookie.MAX_TOKEN, description=(
        f"Required, unless the request has `{refresh_cookie.HEADER}: 1` and the browser sends the refresh "
        "cookie"))] | SkipJsonSchema[None] = absent()

    _no_nulls = field_validator("refresh_token", mode="before")(not_null)


class SocialIn(Body):
    id_token: Annotated[str, Field(max_length=8192)]


class OtpIn(Body):
    otp: Otp | None = None


class EnrollOut(Schema):
    secret: str
    otpauth_uri: str


class ConfirmOut(Schema):
    mfa_enabled: bool
    recovery_codes: list[str]


class PasswordIn(Body):
    current_password: Annotated[str, Field(max_length=1024)]
    new_password: NewPassword
    otp: Otp | None = None


class StepUpIn(Body):
    """The fresh proof of a step-up action (services.stepup). Both optional in the schema: a
    missing proof is 403 `reauth_required`, not a malformed body."""

    password: Annotated[str, Field(max_length=1024, description="The account's password (2FA off)")] | None = None
    otp: Otp | None = None


STEP_UP_ERRORS = ("reauth_required", "reauth_invalid", "too_many_requests")


class ProfileIn(StepUpIn):
    first_name: Name | None = None
    last_name: Name | None = None
    phone: Annotated[Phone, Field(description="E.164; a new phone starts unverified")] | None = None


ChannelName = Literal["email", "phone"]
Code = Annotated[str, Field(max_length=16, description="The 6-digit code that was sent")]


class VerifyIn(Body):
    channel: ChannelName


class VerifySentOut(Schema):
    channel: ChannelName
    sent_to: str


class VerifyConfirmIn(Body):
    channel: ChannelName
    code: Code


class ForgotIn(Body):
    email: Email


class Accepted(Schema):
    pass


class ResetIn(Body):
    email: Email
    code: Code
    new_password: NewPassword
    otp: Otp | None = None


class Jwks(Schema):
    keys: list[dict[str, Any]]


def _user(profile: Any) -> UserOut:
    return UserOut(**asdict(profile))


COOKIE_HEADER = (f"{refresh_cookie.HEADER}?",)  # the web wallet's: its refresh token in a cookie


def _issued(call: Call, body: BaseModel) -> Reply:
    """A new token pair's answer: the refresh token in the JSON body, or, for a client that asked
    for the cookie (`api.refresh_cookie`), in the cookie and not in the body."""
    out = body.model_dump(mode="json")
    if not refresh_cookie.wanted(call.headers):
        return Reply(body=out)
    ttl = get_container().identity.policy.refresh_ttl
    return Reply(body={k: v for k, v in out.items() if k != "refresh_token"},
                 headers={"Set-Cookie": refresh_cookie.set_cookies(out["refresh_token"], ttl)})


def _presented(call: Call) -> str:
    """The refresh token the caller presents: the body's, else (only with the header, which a
    cross-site form or script cannot send) the cookie's."""
    if call.body.refresh_token is not None:
        return str(call.body.refresh_token)
    if refresh_cookie.wanted(call.headers):
        token = refresh_cookie.read(call.headers.get("cookie"))
        if token is None:
            raise Unauthorized("No refresh cookie: sign in again.")
        return token
    raise InvalidRequest("Some fields are missing or invalid.",
                         details=[{"field": "refresh_token", "message": "Field required"}])


def _forgetting_the_cookie(call: Call, err: Unauthorized) -> Response:
    """A refused refresh or logout: a cookie client's browser forgets the dead token too."""
    response = error_response(err)
    if refresh_cookie.wanted(call.headers):
        response.headers["Set-Cookie"] = refresh_cookie.clear_cookies()
    return response


@route(bp, "/.well-known/jwks.json", "GET", summary="Public keys that sign access tokens", public=True,
       response=Jwks, tags=("identity",))
def jwks(call: Call) -> dict[str, Any]:
    return dict(get_container().jwt_keys.jwks())


@route(bp, "/auth/register", "POST", summary="Create an account (and its default wallet)", public=True,
       body=RegisterIn, response=RegisterOut, status=201, errors=("email_taken", "phone_taken"),
       tags=("identity",))
def register(call: Call) -> RegisterOut:
    b: RegisterIn = call.body
    profile = get_container().identity.register(b.email, b.password, b.phone, b.first_name, b.last_name)
    return RegisterOut(user=_user(profile))


@route(bp, "/auth/login", "POST", summary="Log in with e-mail or phone and password", public=True,
       body=LoginIn, response=LoginOut, errors=("invalid_credentials", "too_many_requests"), headers=COOKIE_HEADER,
       tags=("identity",))
def login(call: Call) -> Reply:
    b: LoginIn = call.body
    if not b.email and not b.phone:
        raise InvalidRequest("Give an email or a phone.", details=[{"field": "email", "message": "required"}])
    tokens = get_container().identity.login(b.password, email=b.email, phone=b.phone, device_token=b.device_token,
                                            user_agent=call.headers.get("user-agent"))
    return _issued(call, LoginOut(**asdict(tokens)))


@route(bp, "/auth/refresh", "POST", summary="Rotate a refresh token (the body's, or the web wallet's cookie) for "
       "a new token pair", public=True, body=RefreshIn, response=TokensOut, errors=("unauthorized",),
       headers=COOKIE_HEADER, tags=("identity",))
def refresh(call: Call) -> Reply | Response:
    token = _presented(call)
    try:
        pair = get_container().identity.refresh(token)
    except Unauthorized as err:
        return _forgetting_the_cookie(call, err)
    return _issued(call, TokensOut(**asdict(pair)))


@route(bp, "/auth/logout", "POST", summary="End the login of this refresh token (the body's, or the web "
       "wallet's cookie, which is then cleared)", public=True, body=RefreshIn, status=204, errors=("unauthorized",),
       headers=COOKIE_HEADER, tags=("identity",))
def logout(call: Call) -> Reply | Response:
    token = _presented(call)
    try:
        get_container().identity.logout(token)
    except Unauthorized as err:
        return _forgetting_the_cookie(call, err)
    if refresh_cookie.wanted(call.headers):
        return Reply(status=204, headers={"Set-Cookie": refresh_cookie.clear_cookies()})
    return Reply(status=204)


@route(bp, "/auth/social/{provider}", "POST", summary="Sign in with a Google or Facebook ID token", public=True,
       body=SocialIn, response=SocialTokensOut, errors=("unauthorized", "not_found"), headers=COOKIE_HEADER,
       tags=("identity",))
def social(call: Call, provider: str) -> Reply:
    c = get_container()
    verifier = c.id_token_verifier(provider) if provider in ("google", "facebook") else None
    if verifier is None:
        raise NotFound("Unknown sign-in provider.")
    claims = verifier.verify(call.body.id_token)
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise Unauthorized("The ID token has no subject.")
    from chalicelib.domain.commands import SocialSignIn

    pair, created = c.identity.social_sign_in(SocialSignIn.of_claims(provider, claims))  # the claims read once, here
    return _issued(call, SocialTokensOut(**asdict(pair), created=created))


@route(bp, "/me", "GET", summary="The caller's profile", response=UserOut, tags=("identity",))
def me(call: Call) -> UserOut:
    return _user(get_container().identity.profile(call.user_id))


# Open to an account without a verified contact: setting a phone is how one without an e-mail
# (or with an unreachable one) gets a contact to verify (docs/account-safety.md).
@route(bp, "/me", "PATCH", summary="Change names or phone (a new phone starts unverified; a phone change "
       "needs step-up: password, or otp with 2FA on)", body=ProfileIn, response=UserOut,
       errors=("phone_taken", "conflict", *STEP_UP_ERRORS), unverified_ok=True, tags=("identity",))
def update_me(call: Call) -> UserOut:
    b: ProfileIn = call.body
    c = get_container()
    c.contacts.update_profile(call.user_id, b.first_name, b.last_name, b.phone,
                              step_up=lambda user: c.stepup.check(user, call.principal, b.password, b.otp))
    return _user(c.identity.profile(call.user_id))


@route(bp, "/me/verify", "POST", summary="Send a code that proves the e-mail or phone", body=VerifyIn,
       response=VerifySentOut, status=202, errors=("already_verified", "phone_taken", "too_many_requests"),
       unverified_ok=True, tags=("identity",))
def verify_send(call: Call) -> VerifySentOut:
    from chalicelib.domain.verification import Channel

    channel = Channel(call.body.channel)
    return VerifySentOut(channel=channel.value, sent_to=get_container().contacts.send(call.user_id, channel))


@route(bp, "/me/verify/confirm", "POST", summary="Type back the code: the contact is verified", body=VerifyConfirmIn,
       response=UserOut, errors=("invalid_code", "code_expired", "already_verified", "phone_taken", "conflict"),
       unverified_ok=True, tags=("identity",))
def verify_confirm(call: Call) -> UserOut:
    from chalicelib.domain.verification import Channel

    c = get_container()
    c.contacts.confirm(call.user_id, Channel(call.body.channel), call.body.code)
    return _user(c.identity.profile(call.user_id))


@route(bp, "/auth/password/forgot", "POST", summary="Send a password reset code to the e-mail (202 always)",
       public=True, body=ForgotIn, response=Accepted, status=202, tags=("identity",))
def password_forgot(call: Call) -> Accepted:
    get_container().recovery.forgot(call.body.email)
    return Accepted()


@route(bp, "/auth/password/reset", "POST", summary="Set a new password with the e-mailed code", public=True,
       body=ResetIn, status=204, errors=("invalid_code", "code_expired", "mfa_required", "mfa_invalid",
                                         "too_many_requests", "conflict"), tags=("identity",))
def password_reset(call: Call) -> None:
    b: ResetIn = call.body
    get_container().recovery.reset(b.email, b.code, b.new_password, b.otp)


@route(bp, "/me/password", "POST", summary="Change the password (needs otp when 2FA is on)", body=PasswordIn,
       status=204, errors=("invalid_credentials", "mfa_required", "mfa_invalid", "too_many_requests", "conflict"),
       unverified_ok=True, tags=("identity",))
def change_password(call: Call) -> None:
    b: PasswordIn = call.body
    p = call.principal
    get_container().identity.change_password(p.user_id, b.current_password, b.new_password, b.otp,
                                             session_id=p.session_id)


# Managing one's logins stays open to an account without a verified contact (API.md): a thief
# must be evictable before the owner has proved anything.
@route(bp, "/me/sessions", "GET", summary="Your live logins (newest first); `current` is this one",
       response=SessionsOut, unverified_ok=True, tags=("identity",))
def list_sessions(call: Call) -> SessionsOut:
    views = get_container().identity.sessions_of(call.principal)
    return SessionsOut(items=[SessionOut(**asdict(v)) for v in views])


@route(bp, "/me/sessions/{session_id}", "DELETE",
       summary="Sign out one login: its tokens are refused at once and its WebSockets closed", status=204,
       errors=("not_found",), unverified_ok=True, tags=("identity",))
def end_session(call: Call, session_id: str) -> None:
    get_container().identity.end_session(call.principal, session_id)


@route(bp, "/me/sessions/revoke-others", "POST", summary="Sign out every login but this one", status=204,
       errors=("conflict",), unverified_ok=True, tags=("identity",))
def end_other_sessions(call: Call) -> None:
    get_container().identity.end_other_sessions(call.principal)


@route(bp, "/me/mfa/totp", "POST", summary="Start TOTP enrollment (step-up: needs the password)", body=StepUpIn,
       response=EnrollOut, errors=("mfa_already_enabled", *STEP_UP_ERRORS), tags=("identity",))
def mfa_enroll(call: Call) -> EnrollOut:
    c = get_container()
    # A stolen access token alone must not turn 2FA on: the thief's code would then guard the
    # owner's password change, reset and 2FA-off (attack 2 of issue 26).
    c.stepup.before_enrollment(call.principal, call.body.password, call.body.otp)
    enrollment = c.mfa.enroll(call.user_id)
    return EnrollOut(secret=enrollment.secret, otpauth_uri=enrollment.otpauth_uri)


@route(bp, "/me/mfa/totp/confirm", "POST", summary="Confirm TOTP enrollment with a code", body=OtpIn,
       response=ConfirmOut, errors=("mfa_required", "mfa_invalid", "mfa_not_enrolled", "mfa_already_enabled",
                                    "too_many_requests"), tags=("identity",))
def mfa_confirm(call: Call) -> ConfirmOut:
    codes = get_container().mfa.confirm(call.user_id, call.body.otp, session_id=call.principal.session_id)
    return ConfirmOut(mfa_enabled=True, recovery_codes=codes)


@route(bp, "/me/mfa/totp", "DELETE", summary="Turn TOTP off (sensitive: needs otp)", body=OtpIn, status=204,
       errors=("mfa_required", "mfa_invalid", "mfa_not_enrolled", "too_many_requests"), tags=("identity",))
def mfa_disable(call: Call) -> Reply:
    get_container().mfa.disable(call.user_id, call.body.otp, session_id=call.principal.session_id)
    return Reply(status=204)
