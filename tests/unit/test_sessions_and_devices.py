"""Issue 26 on fakes: device tokens and the lockout without denial of service (attack 3a), the
account's logins listed and ended with their WebSockets (attack 2's eviction), and the
`security.new_sign_in` notice and e-mail."""
from __future__ import annotations

import pytest

from chalicelib.domain.commands import SocialSignIn
from chalicelib.domain.errors import InvalidCredentials, NotFound, TooManyRequests, Unauthorized
from chalicelib.domain.messages import Message
from chalicelib.domain.notification import Change, notices_for
from chalicelib.domain.principal import Principal
from chalicelib.domain.user import Session, User, clean_user_agent
from chalicelib.services.devices import DeviceTokens
from chalicelib.services.notifications import Notifications
from chalicelib.services.people import People
from tests.fakes import FakeUsers, PlainCipher
from tests.fakes_notifications import FakeConnections, FakeInbox, FakePusher
from tests.unit.identity_env import PASSWORD, make_env, verify_email

WRONG = "wrong password!!"
NEW_PASSWORD = "another good passphrase 7"


def signed_up(env, email="alice@example.com"):
    return env.identity.register(email, PASSWORD)


def session_of(env, pair) -> Session:
    """The login a pair belongs to, read from the store (the fake clock may be past its access
    token, which PyJWT checks against the real clock)."""
    return env.sessions.sessions[pair.refresh_token.split(".")[1]]


def principal_of(env, pair) -> Principal:
    s = session_of(env, pair)
    return Principal(user_id=s.user_id, session_id=s.session_id)


# -- device tokens -------------------------------------------------------------------------------
def test_a_login_gives_a_device_token_that_a_later_login_renews_for_the_same_device():
    env = make_env()
    signed_up(env)
    first = env.identity.login(PASSWORD, email="alice@example.com")
    assert first.device_token.startswith("dt1.")
    env.clock.advance(3600)
    again = env.identity.login(PASSWORD, email="alice@example.com", device_token=first.device_token)
    assert again.device_token != first.device_token  # a fresh 90 days...
    dev = [session_of(env, t).device_key for t in (first, again)]
    assert dev[0] and dev[0] == dev[1]  # ...for the same device
    other = env.identity.login(PASSWORD, email="alice@example.com")
    assert session_of(env, other).device_key not in (None, dev[0])


def test_device_tokens_that_are_forged_expired_or_another_accounts_are_worth_nothing():
    tokens = DeviceTokens(b"k" * 32)
    token, device = tokens.issue("usr_a", 0, 1000)
    assert tokens.trusted(token, "usr_a", 0, 1000) == device
    assert tokens.trusted(token, "usr_b", 0, 1000) is None
    assert tokens.trusted(token, "usr_a", 0, 1000 + 90 * 86400) is None
    assert tokens.trusted(token, "usr_a", 1, 1000) is None  # the account's auth epoch moved on
    prefix, owner, nonce, expires, mac = token.split(".")
    for forged in (f"{prefix}.{owner}.{nonce}.{int(expires) + 86400}.{mac}", f"{prefix}.usr_b.{nonce}.{expires}.{mac}",
                   token[:-2] + "AA", f"{prefix}.{owner}.{nonce}.{expires}.ü", "dt1....", "", "x" * 512):
        assert tokens.trusted(forged, "usr_a", 0, 1000) is None
    assert DeviceTokens(b"j" * 32).trusted(token, "usr_a", 0, 1000) is None  # another key


def test_a_login_keeps_its_device_key_and_its_access_tokens_do_not_carry_it():
    env = make_env()
    signed_up(env)
    pair = env.identity.login(PASSWORD, email="alice@example.com")
    env.identity.refresh(pair.refresh_token)
    (session,) = env.sessions.sessions.values()
    assert session.device_key
    claims = env.jwt.verify(pair.access_token, audience="ewallet-api", issuer="ewallet-test")
    assert "dev" not in claims  # wrong passwords inside a login count for the login (F4 of review 26)


# -- lockout without denial of service (attack 3a) ---------------------------------------------
def test_strangers_wrong_passwords_never_lock_the_owner_out_of_a_trusted_device():
    env = make_env()
    signed_up(env)
    mine = env.identity.login(PASSWORD, email="alice@example.com").device_token
    for _ in range(30):  # a stranger who knows the e-mail, with no device token of the account
        with pytest.raises((InvalidCredentials, TooManyRequests)):
            env.identity.login(WRONG, email="alice@example.com")
    with pytest.raises(TooManyRequests):  # new clients are locked together...
        env.identity.login(PASSWORD, email="alice@example.com")
    # ...the owner's browser is not, and its success does not open the pool for the stranger
    assert env.identity.login(PASSWORD, email="alice@example.com", device_token=mine)
    with pytest.raises(TooManyRequests):
        env.identity.login(PASSWORD, email="alice@example.com")


def test_a_trusted_device_is_locked_by_its_own_ten_failures_only():
    env = make_env()
    signed_up(env)
    laptop = env.identity.login(PASSWORD, email="alice@example.com").device_token
    phone = env.identity.login(PASSWORD, email="alice@example.com").device_token
    for _ in range(10):
        with pytest.raises(InvalidCredentials):
            env.identity.login(WRONG, email="alice@example.com", device_token=laptop)
    with pytest.raises(TooManyRequests) as e:
        env.identity.login(PASSWORD, email="alice@example.com", device_token=laptop)
    assert 0 < e.value.retry_after <= 900
    assert env.identity.login(PASSWORD, email="alice@example.com", device_token=phone)
    assert env.identity.login(PASSWORD, email="alice@example.com")  # the shared pool saw none of it


def test_another_accounts_device_token_counts_like_none():
    env = make_env()
    signed_up(env)
    signed_up(env, "bob@example.com")
    bobs = env.identity.login(PASSWORD, email="bob@example.com").device_token
    for _ in range(10):
        with pytest.raises(InvalidCredentials):
            env.identity.login(WRONG, email="alice@example.com", device_token=bobs)
    for token in (bobs, None, "dt1.garbage"):
        with pytest.raises(TooManyRequests):
            env.identity.login(PASSWORD, email="alice@example.com", device_token=token)


def test_unknown_identifiers_lock_after_ten_like_accounts_do():
    env = make_env()
    outcomes = []
    for _ in range(11):
        try:
            env.identity.login(WRONG, email="nobody@example.com", device_token="dt1.a.b.1.c")
        except (InvalidCredentials, TooManyRequests) as err:
            outcomes.append(err.code)
    assert outcomes == ["invalid_credentials"] * 10 + ["too_many_requests"]


def test_wrong_current_passwords_end_the_session_not_the_devices_logins():
    # Review 26, F4: a session thief's guesses cost the thief the session; the owner's device,
    # whose key the session carries, still logs in.
    env = make_env()
    p = signed_up(env)
    first = env.identity.login(PASSWORD, email="alice@example.com")
    pair = env.identity.login(PASSWORD, email="alice@example.com", device_token=first.device_token)
    me = env.identity.verify_access(pair.access_token)
    for _ in range(15):  # strangers fill the shared pool
        with pytest.raises((InvalidCredentials, TooManyRequests)):
            env.identity.login(WRONG, email="alice@example.com")
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            env.identity.change_password(p.user_id, WRONG, NEW_PASSWORD, session_id=me.session_id)
    with pytest.raises(Unauthorized):  # the fifth ends the session
        env.identity.change_password(p.user_id, WRONG, NEW_PASSWORD, session_id=me.session_id)
    with pytest.raises(Unauthorized):
        env.identity.verify_access(pair.access_token)
    with pytest.raises(Unauthorized):
        env.identity.refresh(pair.refresh_token)
    assert env.identity.login(PASSWORD, email="alice@example.com", device_token=first.device_token)


# -- the account's logins -----------------------------------------------------------------------
def test_registration_makes_no_login_and_the_list_marks_the_callers():
    env = make_env()
    p = signed_up(env)
    assert env.sessions.sessions == {}
    first = env.identity.login(PASSWORD, email="alice@example.com", user_agent="Firefox\n/1\x00" + "x" * 400)
    env.clock.advance(60)
    second = env.identity.login(PASSWORD, email="alice@example.com")
    me = principal_of(env, second)
    views = env.identity.sessions_of(me)
    assert [v.current for v in views] == [True, False]  # newest first
    assert views[1].user_agent == clean_user_agent("Firefox\n/1\x00" + "x" * 400)
    assert views[1].user_agent is not None and len(views[1].user_agent) == 256 and "\n" not in views[1].user_agent
    assert views[0].user_agent is None
    env.clock.advance(60)
    env.identity.refresh(first.refresh_token)
    refreshed = {v.session_id: v for v in env.identity.sessions_of(me)}
    older = next(v for v in refreshed.values() if not v.current)
    assert older.last_used_at > older.created_at  # a refresh counts as use; a request does not
    assert all(v.session_id.startswith("ses_") for v in views) and p.user_id


def test_ending_a_login_refuses_its_tokens_at_once_and_only_the_owner_may():
    env = make_env()
    signed_up(env)
    signed_up(env, "bob@example.com")
    mine = env.identity.login(PASSWORD, email="alice@example.com")
    other = env.identity.login(PASSWORD, email="alice@example.com")
    bob = env.identity.verify_access(env.identity.login(PASSWORD, email="bob@example.com").access_token)
    target = env.identity.verify_access(other.access_token).session_id
    assert target
    with pytest.raises(NotFound):
        env.identity.end_session(bob, target)
    with pytest.raises(NotFound):
        env.identity.end_session(bob, "ses_nope")
    me = env.identity.verify_access(mine.access_token)
    env.identity.end_session(me, target)
    env.identity.end_session(me, target)  # ended already: done
    with pytest.raises(Unauthorized):
        env.identity.verify_access(other.access_token)
    with pytest.raises(Unauthorized):
        env.identity.refresh(other.refresh_token)
    assert [v.current for v in env.identity.sessions_of(me)] == [True]


def test_revoke_others_evicts_a_thief_and_closes_its_websockets():
    # Attack 2 of issue 26, the eviction half: whoever holds a stolen login is out at once.
    env = make_env()
    signed_up(env)
    connections, pusher = FakeConnections(), FakePusher()
    notes = Notifications(FakeInbox(), connections, people=lambda: People(env.users, PlainCipher()),
                          transfer=lambda t: None, pusher=pusher)
    env.identity.close_connections = notes.close_sessions
    env.identity.__dict__.pop("logins", None)  # built again with the WebSocket side
    thief = env.identity.login(PASSWORD, email="alice@example.com")
    owner = env.identity.login(PASSWORD, email="alice@example.com")
    t, o = (env.identity.verify_access(x.access_token) for x in (thief, owner))
    assert t.session_id and o.session_id
    connections.add("c-thief", t.user_id, t.session_id, 0, 10**10)
    connections.add("c-owner", o.user_id, o.session_id, 0, 10**10)
    env.identity.end_other_sessions(o)
    with pytest.raises(Unauthorized):
        env.identity.verify_access(thief.access_token)
    with pytest.raises(Unauthorized):
        env.identity.refresh(thief.refresh_token)
    assert env.identity.verify_access(owner.access_token).session_id == o.session_id
    assert pusher.closed == ["c-thief"] and list(connections.open) == ["c-owner"]
    env.identity.logout(owner.refresh_token)  # a logout closes its sockets too
    assert pusher.closed == ["c-thief", "c-owner"] and connections.open == {}


def test_a_failing_close_never_fails_the_ending():
    env = make_env()
    signed_up(env)

    def broken(user_id, session_ids):
        raise TimeoutError("management API down")

    env.identity.close_connections = broken
    env.identity.__dict__.pop("logins", None)
    pair = env.identity.login(PASSWORD, email="alice@example.com")
    env.identity.logout(pair.refresh_token)
    with pytest.raises(Unauthorized):
        env.identity.verify_access(pair.access_token)


def test_a_password_change_and_a_reset_end_every_login_with_its_sockets():
    env = make_env()
    p = signed_up(env)
    closed: list[tuple[str, frozenset[str]]] = []
    env.identity.close_connections = env.recovery.close_connections = lambda u, s: closed.append((u, frozenset(s)))
    for service in (env.identity, env.recovery):
        service.__dict__.pop("logins", None)
    a = env.identity.verify_access(env.identity.login(PASSWORD, email="alice@example.com").access_token)
    env.identity.change_password(p.user_id, PASSWORD, NEW_PASSWORD, session_id=a.session_id)
    b = env.identity.verify_access(env.identity.login(NEW_PASSWORD, email="alice@example.com").access_token)
    env.recovery.forgot("alice@example.com")
    env.recovery.reset("alice@example.com", env.outbox.last_code("alice@example.com"), "a third passphrase 11")
    assert closed == [(p.user_id, frozenset({a.session_id})), (p.user_id, frozenset({b.session_id}))]


# -- security.new_sign_in -----------------------------------------------------------------------
def test_only_a_login_without_a_device_token_after_the_first_is_a_new_device():
    env = make_env()
    signed_up(env)
    first = env.identity.login(PASSWORD, email="alice@example.com")  # the very first: nothing to tell
    trusted = env.identity.login(PASSWORD, email="alice@example.com", device_token=first.device_token)
    stranger = env.identity.login(PASSWORD, email="alice@example.com", device_token="dt1.forged")
    assert [session_of(env, x).new_device for x in (first, trusted, stranger)] == [False, False, True]


def session_insert(new_device=True, user="usr_ann", event="INSERT"):
    return Change("sessions", event, {"session_id": "ses_1", "user_id": user, "current_hash": "h",
                                      "recent_hashes": [], "created_at": "2026-01-02T03:04:05.000Z",
                                      "user_agent": "Firefox/1", "new_device": new_device, "device_key": "k"}, 0.0)


def test_the_rule_tells_a_new_device_login_once_with_the_time_and_user_agent_only():
    (notice,) = notices_for(session_insert())
    assert (notice.recipient, notice.type, notice.subject) == ("usr_ann", "security.new_sign_in", "ses_1")
    assert notice.data == {"signed_in_at": "2026-01-02T03:04:05.000Z", "user_agent": "Firefox/1"}
    assert notices_for(session_insert(new_device=False)) == []
    assert notices_for(session_insert(event="MODIFY")) == []  # a refresh or a revocation


def test_a_new_sign_in_is_stored_pushed_and_mailed_once_even_when_the_stream_replays():
    users = FakeUsers()
    cipher = PlainCipher()
    users.users["usr_ann"] = User("usr_ann", "2026-01-01T00:00:00Z", email_verified=True,
                                  email_ct=cipher.encrypt("ann@example.com", "usr_ann", "email"))
    users.users["usr_eve"] = User("usr_eve", "2026-01-01T00:00:00Z",
                                  email_ct=cipher.encrypt("eve@example.com", "usr_eve", "email"))
    mailed: list[tuple[str, Message]] = []
    inbox = FakeInbox()

    def mail(user_id: str, message: Message) -> bool:
        from chalicelib.services.sending import email_account
        from tests.fakes import FakeMessenger

        outbox = FakeMessenger()
        sent = email_account(users, PlainCipher(), outbox, user_id, message, what="SecurityEmail")
        if sent:
            mailed.append((outbox.sent[-1][1], message))
        return sent

    notes = Notifications(inbox, FakeConnections(), people=lambda: People(users, PlainCipher()),
                          transfer=lambda t: None, mail=mail)
    assert notes.handle([session_insert(), session_insert()]) == 1
    assert notes.handle([session_insert(user="usr_eve")]) == 1  # stored, but no mail to an unproven address
    (n,) = inbox.page("usr_ann", False, 10, None)[0]
    assert n.data == {"signed_in_at": "2026-01-02T03:04:05.000Z", "user_agent": "Firefox/1"}
    ((to, message),) = mailed
    assert to == "ann@example.com" and "Firefox/1" in message.text and "2026-01-02T03:04:05.000Z" in message.text


def test_a_failing_mail_never_fails_the_batch():
    def mail(user_id: str, message: Message) -> bool:
        raise TimeoutError("SES down")

    notes = Notifications(FakeInbox(), FakeConnections(), people=lambda: People(FakeUsers(), PlainCipher()),
                          transfer=lambda t: None, mail=mail)
    assert notes.handle([session_insert()]) == 1


# -- over HTTP -----------------------------------------------------------------------------------
def test_the_routes_over_http(http, env):
    env.identity.register("alice@example.com", PASSWORD)
    body = {"email": "alice@example.com", "password": PASSWORD}
    status, first, _ = http.request("POST", "/auth/login", body, headers={"User-Agent": "Phone/2"})
    assert status == 200 and set(first) == {"access_token", "refresh_token", "token_type", "expires_in",
                                            "device_token"}
    status, second, _ = http.request("POST", "/auth/login", {**body, "device_token": first["device_token"]})
    assert status == 200 and second["device_token"].startswith("dt1.")
    assert http.request("POST", "/auth/login", {**body, "device_token": "x" * 513})[0] == 400
    status, listed, _ = http.request("GET", "/me/sessions", token=second["access_token"])
    assert status == 200 and sorted(i["current"] for i in listed["items"]) == [False, True]
    assert set(listed["items"][0]) == {"session_id", "created_at", "last_used_at", "user_agent", "current"}
    (other,) = [i for i in listed["items"] if not i["current"]]  # the clock stands still: no order
    (mine,) = [i for i in listed["items"] if i["current"]]
    assert other["user_agent"] == "Phone/2"
    thief_session = other["session_id"]
    assert http.request("DELETE", "/me/sessions/ses_nope", token=second["access_token"])[:2] == (
        404, {"error": {"code": "not_found", "message": "No such session."}})
    assert http.request("POST", "/me/sessions/revoke-others", token=second["access_token"])[0] == 204
    assert http.request("GET", "/me", token=first["access_token"])[0] == 401  # refused at once
    assert http.request("DELETE", f"/me/sessions/{thief_session}", token=second["access_token"])[0] == 204
    assert http.request("DELETE", f"/me/sessions/{mine['session_id']}",
                        token=second["access_token"])[0] == 204  # one's own login, too
    assert http.request("GET", "/me/sessions", token=second["access_token"])[0] == 401


def test_the_new_routes_are_in_the_openapi_document(http, env):
    _, doc, _ = http.request("GET", "/openapi.json")
    paths = doc["paths"]
    assert set(paths["/me/sessions"]) == {"get"}
    assert set(paths["/me/sessions/{session_id}"]) == {"delete"}
    assert set(paths["/me/sessions/revoke-others"]) == {"post"}
    assert "404" in paths["/me/sessions/{session_id}"]["delete"]["responses"]
    login = paths["/auth/login"]["post"]
    assert "429" in login["responses"]
    assert "device_token" in doc["components"]["schemas"]["LoginIn"]["properties"]
    assert "device_token" in doc["components"]["schemas"]["LoginOut"]["required"]
    assert "device_token" not in doc["components"]["schemas"]["TokensOut"]["properties"]


# -- the auth epoch: nothing signed in before a credential change outlives it (review 26) --------
def verified(env, email="alice@example.com"):
    p = signed_up(env, email)
    verify_email(env, p.user_id, email)
    return p


def reset_password(env, email="alice@example.com", password=NEW_PASSWORD):
    env.recovery.forgot(email)
    env.recovery.reset(email, env.outbox.last_code(email), password)


def test_a_login_that_checked_the_old_password_while_a_reset_happened_dies_at_its_first_refresh():
    # F2: the login read the account and checked the old password; the reset then set the new
    # one and ended every login; only then was this login's session written.
    env = make_env()
    verified(env)
    hasher, real_verify = env.identity.hasher, env.identity.hasher.verify

    def reset_lands_meanwhile(password, hashed):
        hasher.verify = real_verify
        ok = real_verify(password, hashed)
        reset_password(env)
        return ok

    hasher.verify = reset_lands_meanwhile
    late = env.identity.login(PASSWORD, email="alice@example.com")
    with pytest.raises(Unauthorized):
        env.identity.refresh(late.refresh_token)
    assert session_of(env, late).status == "revoked"  # ended, its sockets with it


def hidden_from_the_index(env, *pairs):
    """The by-user index of DynamoDB is eventually consistent: a login written a moment ago is
    not listed yet."""
    fresh = {pair.refresh_token.split(".")[1] for pair in pairs}
    real_live_of = env.sessions.live_of
    env.sessions.live_of = lambda user_id, now: [s for s in real_live_of(user_id, now) if s.session_id not in fresh]


@pytest.mark.parametrize("change", ["reset", "password change", "revoke-others"])
def test_a_login_the_index_did_not_list_yet_dies_with_the_others(change):
    env = make_env()
    p = verified(env)
    owner = env.identity.login(PASSWORD, email="alice@example.com")
    thief = env.identity.login(PASSWORD, email="alice@example.com")
    hidden_from_the_index(env, thief)
    me = principal_of(env, owner)
    if change == "reset":
        reset_password(env)
    elif change == "password change":
        env.identity.change_password(p.user_id, PASSWORD, NEW_PASSWORD, session_id=me.session_id)
    else:
        env.identity.end_other_sessions(me)
        assert env.identity.refresh(owner.refresh_token)  # the caller's own login carries over
    with pytest.raises(Unauthorized):
        env.identity.refresh(thief.refresh_token)


def test_device_tokens_issued_before_a_reset_are_no_longer_trusted():
    # F7: a thief's device token, got with the old password, stays no "trusted device".
    env = make_env()
    verified(env)
    env.identity.login(PASSWORD, email="alice@example.com")
    thief = env.identity.login(PASSWORD, email="alice@example.com").device_token
    reset_password(env)
    again = env.identity.login(NEW_PASSWORD, email="alice@example.com", device_token=thief)
    assert session_of(env, again).new_device  # announced, and counted with the strangers
    assert again.device_token != thief
    renewed = env.identity.login(NEW_PASSWORD, email="alice@example.com", device_token=again.device_token)
    assert not session_of(env, renewed).new_device  # the one issued after is trusted


def test_sign_out_everywhere_else_untrusts_every_device_token_but_the_callers():
    env = make_env()
    verified(env)
    owner = env.identity.login(PASSWORD, email="alice@example.com")
    thief = env.identity.login(PASSWORD, email="alice@example.com")
    env.identity.end_other_sessions(principal_of(env, owner))
    stolen = env.identity.login(PASSWORD, email="alice@example.com", device_token=thief.device_token)
    assert session_of(env, stolen).new_device
    again = env.identity.login(PASSWORD, email="alice@example.com", device_token=owner.device_token)
    assert not session_of(env, again).new_device
    assert session_of(env, again).device_key == session_of(env, owner).device_key


def lock_the_shared_pool(env, email="alice@example.com"):
    """A stranger who knows the e-mail fills the counter of clients without a device token."""
    for _ in range(12):
        with pytest.raises((InvalidCredentials, TooManyRequests)):
            env.identity.login(WRONG, email=email)
    with pytest.raises(TooManyRequests):
        env.identity.login(NEW_PASSWORD, email=email)


def test_the_owner_who_changed_her_password_is_never_locked_out_by_strangers_after_it():
    # Review R4: the change voided her own device token too, so her next login fell into the
    # pool a stranger can fill. The device she changed it from stays trusted.
    env = make_env()
    verified(env)
    thief = env.identity.login(PASSWORD, email="alice@example.com")
    owner = env.identity.login(PASSWORD, email="alice@example.com")
    me = principal_of(env, owner)
    env.identity.change_password(me.user_id, PASSWORD, NEW_PASSWORD, session_id=me.session_id)
    lock_the_shared_pool(env)
    again = env.identity.login(NEW_PASSWORD, email="alice@example.com", device_token=owner.device_token)
    assert not session_of(env, again).new_device
    with pytest.raises(TooManyRequests):  # the thief's token, got with the old password, is no one's
        env.identity.login(NEW_PASSWORD, email="alice@example.com", device_token=thief.device_token)


def test_a_device_carried_over_twice_stays_trusted_and_another_devices_change_drops_it():
    env = make_env()
    verified(env)
    phone = env.identity.login(PASSWORD, email="alice@example.com")
    laptop = env.identity.login(PASSWORD, email="alice@example.com")
    env.identity.end_other_sessions(principal_of(env, phone))
    env.identity.end_other_sessions(principal_of(env, phone))  # her phone's token is two epochs old
    assert not session_of(env, env.identity.login(PASSWORD, email="alice@example.com",
                                                  device_token=phone.device_token)).new_device
    laptop = env.identity.login(PASSWORD, email="alice@example.com", device_token=laptop.device_token)
    env.identity.end_other_sessions(principal_of(env, laptop))  # now the laptop is the one kept
    assert session_of(env, env.identity.login(PASSWORD, email="alice@example.com",
                                              device_token=phone.device_token)).new_device


def test_a_reset_carries_no_device_over():
    env = make_env()
    verified(env)
    owner = env.identity.login(PASSWORD, email="alice@example.com")
    env.identity.end_other_sessions(principal_of(env, owner))
    reset_password(env)  # whoever asked may have lost (or stolen) that very device
    again = env.identity.login(NEW_PASSWORD, email="alice@example.com", device_token=owner.device_token)
    assert session_of(env, again).new_device


@pytest.mark.parametrize("tail", ["²", "9" * 5000, "\ud800", "1.x", ""])
def test_hostile_device_tokens_are_worth_nothing_and_never_raise(tail):
    tokens = DeviceTokens(b"k" * 32)
    token, _ = tokens.issue("usr_a", 0, 1000)
    head = ".".join(token.split(".")[:3])
    for bad in (f"{head}.{tail}.mac", f"dt1.usr_a.{tail}", tail, f"{token}{tail or '.'}"):
        assert tokens.trusted(bad, "usr_a", 0, 1000) is None


# -- provider sign-ins are new sign-ins (review 26, F6) -------------------------------------------
def test_a_provider_sign_in_into_an_account_that_signed_in_before_is_a_new_sign_in():
    env = make_env()
    verified(env)
    first = env.identity.login(PASSWORD, email="alice@example.com")
    pair, created = env.identity.social_sign_in(SocialSignIn.of_claims(
        "google", {"sub": "g-1", "email": "alice@example.com", "email_verified": True}))
    assert not created and session_of(env, pair).user_id == session_of(env, first).user_id
    assert session_of(env, pair).new_device  # it carries no device token


def test_an_accounts_first_sign_in_through_a_provider_is_no_news_the_next_is():
    env = make_env()
    claims = {"sub": "g-2", "email": "gina@example.com", "email_verified": True}
    made, created = env.identity.social_sign_in(SocialSignIn.of_claims("google", claims))
    again, _ = env.identity.social_sign_in(SocialSignIn.of_claims("google", claims))
    assert created and [session_of(env, x).new_device for x in (made, again)] == [False, True]


def test_the_new_sign_in_mail_quotes_the_user_agent_as_short_plain_text():
    from chalicelib.domain.messages import MAIL_USER_AGENT, new_sign_in

    lure = 'Visit https://evil.example/reset or www.evil.example, mail help@evil.example <a href="x">' + "y" * 300
    text = new_sign_in("2026-01-02T03:04:05.000Z", clean_user_agent(lure)).text
    for link in ("://", "www.", "evil.example", "@", "<", '"x"'):
        assert link not in text
    quoted = text.split('"')[1]
    assert len(quoted) == MAIL_USER_AGENT and quoted.startswith("Visit https")
    chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
    assert chrome in new_sign_in("t", chrome).text  # an ordinary one reads as it is


# -- only a current login moves the epoch (re-review 26b: A, B, E, F) ----------------------------
def trusted_now(env, user_id, device_token):
    u = env.users.get(user_id)
    return env.identity.devices.trusted(device_token, user_id, u.auth_epoch, int(env.clock()), u.kept_device)


@pytest.mark.parametrize("change", ["password change", "reset"])
def test_a_login_the_change_missed_cannot_revive_itself_by_signing_out_the_others(change):
    # A: its access token still passes routes for minutes; revoke-others used to restamp it to
    # the new epoch (30 days of refreshes) and keep the thief's device.
    env = make_env()
    p = verified(env)
    owner = env.identity.login(PASSWORD, email="alice@example.com")
    thief = env.identity.login(PASSWORD, email="alice@example.com")
    hidden_from_the_index(env, thief)
    if change == "reset":
        reset_password(env)
    else:
        me = principal_of(env, owner)
        env.identity.change_password(p.user_id, PASSWORD, NEW_PASSWORD, session_id=me.session_id)
    env.identity.confirm_session(principal_of(env, thief))  # the route's per-request check passes
    with pytest.raises(Unauthorized):
        env.identity.end_other_sessions(principal_of(env, thief))
    assert session_of(env, thief).status == "revoked"  # and it is ended there
    with pytest.raises(Unauthorized):
        env.identity.refresh(thief.refresh_token)
    assert trusted_now(env, p.user_id, thief.device_token) is None


def test_a_sign_out_of_the_others_from_a_login_ended_meanwhile_changes_nothing():
    # B: the thief's request passed the route's check, then the owner ended his login.
    env = make_env()
    p = verified(env)
    thief = env.identity.login(PASSWORD, email="alice@example.com")
    owner = env.identity.login(PASSWORD, email="alice@example.com")
    env.identity.confirm_session(principal_of(env, thief))
    env.identity.end_other_sessions(principal_of(env, owner))
    with pytest.raises(Unauthorized):
        env.identity.end_other_sessions(principal_of(env, thief))
    assert session_of(env, owner).status == "active"
    assert trusted_now(env, p.user_id, owner.device_token) is not None
    assert trusted_now(env, p.user_id, thief.device_token) is None


def test_a_password_change_in_flight_never_undoes_the_owners_reset():
    # E: the thief (old password, live login) had a change in flight while the owner reset.
    env = make_env()
    p = verified(env)
    thief = env.identity.login(PASSWORD, email="alice@example.com")
    hasher, real_verify = env.identity.hasher, env.identity.hasher.verify

    def owner_resets_meanwhile(password, hashed):
        hasher.verify = real_verify
        ok = real_verify(password, hashed)
        reset_password(env)
        return ok

    hasher.verify = owner_resets_meanwhile
    me = principal_of(env, thief)
    with pytest.raises(Unauthorized):  # the write is refused; the next pass finds the login ended
        env.identity.change_password(p.user_id, PASSWORD, "thief's own passphrase 99", session_id=me.session_id)
    assert env.identity.login(NEW_PASSWORD, email="alice@example.com")
    assert env.users.users[p.user_id].kept_device is None


def test_a_sign_out_of_the_others_that_read_before_a_reset_keeps_no_device_after_it():
    # F: the bump is conditioned on the epoch read, so "a reset keeps none" holds in the race.
    env = make_env()
    p = verified(env)
    thief = env.identity.login(PASSWORD, email="alice@example.com")
    real_get = env.sessions.get
    raced: list[str] = []

    def reset_lands_after_the_reads(session_id):
        session = real_get(session_id)  # the account and the login were read: both current
        if not raced:
            raced.append(session_id)
            reset_password(env)
        return session

    env.sessions.get = reset_lands_after_the_reads  # type: ignore[method-assign]
    with pytest.raises(Unauthorized):  # the bump is refused; the next pass finds the login ended
        env.identity.end_other_sessions(principal_of(env, thief))
    env.sessions.get = real_get  # type: ignore[method-assign]
    assert raced and env.users.users[p.user_id].kept_device is None
    assert trusted_now(env, p.user_id, thief.device_token) is None


def test_a_login_ended_while_it_signs_out_the_others_moves_nothing():
    # G: the owner ends the thief's login (DELETE, which moves no epoch) after his request read
    # it: the write checks the login itself, in the same transaction.
    env = make_env()
    p = verified(env)
    thief = env.identity.login(PASSWORD, email="alice@example.com")
    owner = env.identity.login(PASSWORD, email="alice@example.com")
    real = env.users.move_auth_epoch
    fired: list[str] = []

    def owner_deletes_it_first(*args, **kwargs):
        if not fired:
            fired.append(session_of(env, thief).session_id)
            env.identity.end_session(principal_of(env, owner), fired[0])
        return real(*args, **kwargs)

    env.users.move_auth_epoch = owner_deletes_it_first  # type: ignore[method-assign]
    with pytest.raises(Unauthorized):
        env.identity.end_other_sessions(principal_of(env, thief))
    assert fired and session_of(env, owner).status == "active"
    assert env.users.users[p.user_id].kept_device is None
    assert trusted_now(env, p.user_id, owner.device_token) is not None


def test_a_login_ended_during_the_password_change_sets_no_password():
    # H: two bcrypt rounds are the widest window; a DELETE of the login lands in it.
    env = make_env()
    p = verified(env)
    thief = env.identity.login(PASSWORD, email="alice@example.com")
    owner = env.identity.login(PASSWORD, email="alice@example.com")
    hasher, real_hash = env.identity.hasher, env.identity.hasher.hash
    me = principal_of(env, thief)
    assert me.session_id

    def owner_deletes_it_meanwhile(password):
        hasher.hash = real_hash
        env.identity.end_session(principal_of(env, owner), str(me.session_id))
        return real_hash(password)

    hasher.hash = owner_deletes_it_meanwhile
    with pytest.raises(Unauthorized):
        env.identity.change_password(p.user_id, PASSWORD, NEW_PASSWORD, session_id=me.session_id)
    assert env.identity.login(PASSWORD, email="alice@example.com")  # the password is unchanged
    assert session_of(env, owner).status == "active" and env.users.users[p.user_id].kept_device is None


def test_a_double_click_on_sign_out_everywhere_else_keeps_the_callers_login():
    # I: the bump and the carrying over of the caller's login were two writes; a second click
    # between them found the login stamped older and ended it. Now they are one.
    env = make_env()
    verified(env)
    other = env.identity.login(PASSWORD, email="alice@example.com")
    owner = env.identity.login(PASSWORD, email="alice@example.com")
    real = env.users.move_auth_epoch
    second: list[str] = []

    def clicked_again_right_after(*args, **kwargs):
        done = real(*args, **kwargs)
        if not second:
            second.append("clicked")
            env.identity.end_other_sessions(principal_of(env, owner))  # raises if it finds it ended
        return done

    env.users.move_auth_epoch = clicked_again_right_after  # type: ignore[method-assign]
    env.identity.end_other_sessions(principal_of(env, owner))
    assert second and session_of(env, owner).status == "active"
    assert session_of(env, other).status == "revoked"
    assert env.identity.refresh(owner.refresh_token)


def test_a_refresh_in_flight_while_its_own_login_signs_out_the_others_does_not_end_it():
    """Review 26d: the refresh read its session (the old epoch), then the same login's "sign out
    everywhere else" carried it over to the new one, then the refresh read the account: it took
    its own login for a stale one and ended it. It now reads the session again first."""
    env = make_env()
    profile = env.identity.register("alice@example.com", PASSWORD)
    pair = env.identity.login(PASSWORD, email="alice@example.com")
    verify_email(env, profile.user_id, "alice@example.com")
    sid = pair.refresh_token.split(".")[1]
    real_get = env.users.get

    def get_after_the_others_are_signed_out(user_id: str) -> User | None:
        env.users.get = real_get  # type: ignore[method-assign]
        env.identity.end_other_sessions(Principal(user_id=profile.user_id, session_id=sid))
        return real_get(user_id)

    env.users.get = get_after_the_others_are_signed_out  # type: ignore[method-assign]
    renewed = env.identity.refresh(pair.refresh_token)  # rotated, from the session carried over
    assert env.sessions.sessions[sid].status == "active"
    assert env.identity.refresh(renewed.refresh_token).access_token
