"""Identity routes: accounts, tokens, profile, password and TOTP two-factor authentication."""
from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from chalice import Blueprint
from pydantic import BaseModel, ConfigDict, Field

from chalicelib.api.routing import Call, Reply, route
from chalicelib.api.schemas import Body
from chalicelib.container import get_container
from chalicelib.domain.errors import InvalidRequest, NotFound, Unauthorized

bp = Blueprint(__name__)

Name = Annotated[str, Field(min_length=1, max_length=100)]
Otp = Annotated[str | int, Field(description="A current TOTP code or an unused recovery code")]


class RegisterIn(Body):
    email: Annotated[str, Field(max_length=320)]
    password: Annotated[str, Field(max_length=1024)]
    phone: Annotated[str, Field(max_length=32)] | None = None
    first_name: Name | None = None
    last_name: Name | None = None


class UserOut(BaseModel):
    user_id: str
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    mfa_enabled: bool
    email_verified: bool
    phone_verified: bool
    created_at: str


class RegisterOut(BaseModel):
    user: UserOut


class LoginIn(Body):
    model_config = ConfigDict(json_schema_extra={"anyOf": [{"required": ["email"]}, {"required": ["phone"]}]})

    email: Annotated[str, Field(max_length=320)] | None = None
    phone: Annotated[str, Field(max_length=32)] | None = None
    password: Annotated[str, Field(max_length=1024)]


class TokensOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int


class SocialTokensOut(TokensOut):
    created: bool


class RefreshIn(Body):
    refresh_token: Annotated[str, Field(max_length=512)]


class SocialIn(Body):
    id_token: Annotated[str, Field(max_length=8192)]


class OtpIn(Body):
    otp: Otp | None = None


class EnrollOut(BaseModel):
    secret: str
    otpauth_uri: str


class ConfirmOut(BaseModel):
    mfa_enabled: bool
    recovery_codes: list[str]


class PasswordIn(Body):
    current_password: Annotated[str, Field(max_length=1024)]
    new_password: Annotated[str, Field(max_length=1024)]
    otp: Otp | None = None


class ProfileIn(Body):
    first_name: Name | None = None
    last_name: Name | None = None
    phone: Annotated[str, Field(max_length=32, description="E.164; a new phone starts unverified")] | None = None


ChannelName = Literal["email", "phone"]
Code = Annotated[str, Field(max_length=16, description="The 6-digit code that was sent")]


class VerifyIn(Body):
    channel: ChannelName


class VerifySentOut(BaseModel):
    channel: ChannelName
    sent_to: str


class VerifyConfirmIn(Body):
    channel: ChannelName
    code: Code


class ForgotIn(Body):
    email: Annotated[str, Field(max_length=320)]


class Accepted(BaseModel):
    pass


class ResetIn(Body):
    email: Annotated[str, Field(max_length=320)]
    code: Code
    new_password: Annotated[str, Field(max_length=1024)]
    otp: Otp | None = None


class Jwks(BaseModel):
    keys: list[dict[str, Any]]


def _user(profile: Any) -> UserOut:
    return UserOut(**asdict(profile))


def _tokens(pair: Any) -> TokensOut:
    return TokensOut(**asdict(pair))


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
       body=LoginIn, response=TokensOut, errors=("invalid_credentials", "too_many_requests"), tags=("identity",))
def login(call: Call) -> TokensOut:
    b: LoginIn = call.body
    if not b.email and not b.phone:
        raise InvalidRequest("Give an email or a phone.", details=[{"field": "email", "message": "required"}])
    return _tokens(get_container().identity.login(b.password, email=b.email, phone=b.phone))


@route(bp, "/auth/refresh", "POST", summary="Rotate a refresh token for a new token pair", public=True,
       body=RefreshIn, response=TokensOut, errors=("unauthorized",), tags=("identity",))
def refresh(call: Call) -> TokensOut:
    return _tokens(get_container().identity.refresh(call.body.refresh_token))


@route(bp, "/auth/logout", "POST", summary="End the login of this refresh token", public=True,
       body=RefreshIn, status=204, errors=("unauthorized",), tags=("identity",))
def logout(call: Call) -> None:
    get_container().identity.logout(call.body.refresh_token)


@route(bp, "/auth/social/{provider}", "POST", summary="Sign in with a Google or Facebook ID token", public=True,
       body=SocialIn, response=SocialTokensOut, errors=("unauthorized", "not_found"), tags=("identity",))
def social(call: Call, provider: str) -> SocialTokensOut:
    c = get_container()
    verifier = c.id_token_verifier(provider) if provider in ("google", "facebook") else None
    if verifier is None:
        raise NotFound("Unknown sign-in provider.")
    claims = verifier.verify(call.body.id_token)
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise Unauthorized("The ID token has no subject.")
    pair, created = c.identity.social_sign_in(provider, claims)
    return SocialTokensOut(**asdict(pair), created=created)


@route(bp, "/me", "GET", summary="The caller's profile", response=UserOut, tags=("identity",))
def me(call: Call) -> UserOut:
    return _user(get_container().identity.profile(call.user_id))


@route(bp, "/me", "PATCH", summary="Change names or phone (a new phone starts unverified)", body=ProfileIn,
       response=UserOut, errors=("phone_taken", "conflict"), tags=("identity",))
def update_me(call: Call) -> UserOut:
    b: ProfileIn = call.body
    c = get_container()
    c.contacts.update_profile(call.user_id, b.first_name, b.last_name, b.phone)
    return _user(c.identity.profile(call.user_id))


@route(bp, "/me/verify", "POST", summary="Send a code that proves the e-mail or phone", body=VerifyIn,
       response=VerifySentOut, status=202, errors=("already_verified", "phone_taken", "too_many_requests"),
       tags=("identity",))
def verify_send(call: Call) -> VerifySentOut:
    from chalicelib.domain.verification import Channel

    channel = Channel(call.body.channel)
    return VerifySentOut(channel=channel.value, sent_to=get_container().contacts.send(call.user_id, channel))


@route(bp, "/me/verify/confirm", "POST", summary="Type back the code: the contact is verified", body=VerifyConfirmIn,
       response=UserOut, errors=("invalid_code", "code_expired", "already_verified", "phone_taken", "conflict"),
       tags=("identity",))
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
       status=204, errors=("invalid_credentials", "mfa_required", "mfa_invalid", "too_many_requests"),
       tags=("identity",))
def change_password(call: Call) -> None:
    b: PasswordIn = call.body
    get_container().identity.change_password(call.user_id, b.current_password, b.new_password, b.otp)


@route(bp, "/me/mfa/totp", "POST", summary="Start TOTP enrollment", response=EnrollOut,
       errors=("mfa_already_enabled",), tags=("identity",))
def mfa_enroll(call: Call) -> EnrollOut:
    enrollment = get_container().mfa.enroll(call.user_id)
    return EnrollOut(secret=enrollment.secret, otpauth_uri=enrollment.otpauth_uri)


@route(bp, "/me/mfa/totp/confirm", "POST", summary="Confirm TOTP enrollment with a code", body=OtpIn,
       response=ConfirmOut, errors=("mfa_required", "mfa_invalid", "mfa_not_enrolled", "mfa_already_enabled",
                                    "too_many_requests"), tags=("identity",))
def mfa_confirm(call: Call) -> ConfirmOut:
    codes = get_container().mfa.confirm(call.user_id, call.body.otp)
    return ConfirmOut(mfa_enabled=True, recovery_codes=codes)


@route(bp, "/me/mfa/totp", "DELETE", summary="Turn TOTP off (sensitive: needs otp)", body=OtpIn, status=204,
       errors=("mfa_required", "mfa_invalid", "mfa_not_enrolled", "too_many_requests"), tags=("identity",))
def mfa_disable(call: Call) -> Reply:
    get_container().mfa.disable(call.user_id, call.body.otp)
    return Reply(status=204)
