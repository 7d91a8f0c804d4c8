"""Issue 26 over HTTP: device tokens, the account's logins (listed, ended one by one or all but
the caller's, their WebSockets closed), a sign-in from a new device told in the inbox and by
e-mail, and a reset no stranger's guesses can block."""
from __future__ import annotations

import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.e2e.conftest import PASSWORD, Api, wait_for
from tests.outbox import last_code, messages_to


def code(r) -> str | None:
    try:
        return r.json()["error"]["code"]
    except Exception:  # noqa: BLE001
        return None


def login(api: Api, email: str, **extra):
    r = api.request("POST", "/auth/login", {"email": email, "password": PASSWORD, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def test_a_thief_is_evicted_by_revoke_others_at_once_sockets_included(api, stack, new_user):
    # Attack 2 of issue 26, the eviction half.
    owner = new_user()
    thief = login(api, owner.email)
    me = owner.api.request("GET", "/me/sessions")
    assert me.status_code == 200 and [s["current"] for s in me.json()["items"]] == [False, True]
    with connect(f"{stack['WS_URL']}?token={thief['access_token']}", open_timeout=5) as ws:
        time.sleep(0.3)  # the $connect handler stored the connection
        assert owner.api.request("POST", "/me/sessions/revoke-others").status_code == 204
        deadline = time.monotonic() + 5
        with pytest.raises(ConnectionClosed):  # closed by the API, not left to the next push
            while True:  # (the thief's own login may be told to it first: a new sign-in)
                ws.recv(timeout=max(0.01, deadline - time.monotonic()))
    assert code(Api(api.base, thief["access_token"]).request("GET", "/me")) == "unauthorized"
    assert api.request("POST", "/auth/refresh", {"refresh_token": thief["refresh_token"]}).status_code == 401
    assert owner.api.request("GET", "/me").status_code == 200
    assert [s["current"] for s in owner.api.request("GET", "/me/sessions").json()["items"]] == [True]


def test_one_login_is_ended_by_id_and_nobody_else_can(api, new_user):
    ann, bob = new_user(), new_user()
    other = login(api, ann.email)
    sessions = ann.api.request("GET", "/me/sessions").json()["items"]
    target = next(s["session_id"] for s in sessions if not s["current"])
    assert code(bob.api.request("DELETE", f"/me/sessions/{target}")) == "not_found"
    assert Api(api.base, other["access_token"]).request("GET", "/me").status_code == 200
    assert ann.api.request("DELETE", f"/me/sessions/{target}").status_code == 204
    assert ann.api.request("DELETE", f"/me/sessions/{target}").status_code == 204  # ended already
    assert Api(api.base, other["access_token"]).request("GET", "/me").status_code == 401
    assert code(ann.api.request("DELETE", "/me/sessions/ses_" + "0" * 32)) == "not_found"


def test_a_sign_in_from_a_new_device_is_told_once_in_the_inbox_and_by_e_mail(api, stack, new_user):
    u = new_user()  # its first login: nothing to tell
    trusted = login(api, u.email, device_token=u.tokens["device_token"])
    assert trusted["device_token"]
    r = api.request("POST", "/auth/login", {"email": u.email, "password": PASSWORD},
                    headers={"User-Agent": "NewPhone/1.0"})
    assert r.status_code == 200

    def told() -> list[dict]:
        items = u.api.request("GET", "/notifications").json()["items"]
        return [n for n in items if n["type"] == "security.new_sign_in"]

    (notice,) = wait_for(told, timeout=20)
    assert notice["data"]["user_agent"] == "NewPhone/1.0" and set(notice["data"]) == {"signed_in_at", "user_agent"}
    mail = wait_for(lambda: [t for t in messages_to(stack["AWS_ENDPOINT"], u.email) if "new device" in t])
    assert len(mail) == 1 and "NewPhone/1.0" in mail[0]
    time.sleep(2)
    assert len(told()) == 1  # the trusted login told nobody


def test_strangers_reset_guesses_never_block_the_owners_fresh_code(api, stack, new_user):
    # Attack 3b of issue 26: there was a lock of 20 tries a day per e-mail that refused even the
    # owner's right code.
    u = new_user()
    assert api.request("POST", "/auth/password/forgot", {"email": u.email}).status_code == 202
    for _ in range(25):
        r = api.request("POST", "/auth/password/reset", {"email": u.email, "code": "000000",
                                                         "new_password": "a brand new passphrase 1"})
        assert code(r) in ("invalid_code", "code_expired"), r.text
    assert api.request("POST", "/auth/password/forgot", {"email": u.email}).status_code == 202
    fresh = last_code(stack["AWS_ENDPOINT"], u.email)
    r = api.request("POST", "/auth/password/reset", {"email": u.email, "code": fresh,
                                                     "new_password": "a brand new passphrase 1"})
    assert r.status_code == 204, r.text
