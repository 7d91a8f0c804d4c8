import pytest

from tests.e2e.log_scan import leaks

SECRETS = {"STRIPE_WEBHOOK_SECRET": "whsec_abc", "STRIPE_API_KEY": "sk_test_x", "DATA_KEY": "dk==",
           "BLIND_INDEX_KEY": "bk=="}


@pytest.mark.parametrize("line", [
    '{"message": "login", "email": "ada@example.com"}', "user +6591234567 paid",
    "Bearer eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c3IifQ.x",
    "rt.ses_0123abcd.zzz", "card 4242424242424242", "pi_1_secret_abcdef", "pw correct horse battery staple",
    "key whsec_abc leaked",
])
def test_each_kind_of_leak_is_found(tmp_path, line):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "api.log").write_text('{"message": "request", "user_id": "usr_1", "status": 200}\n' + line)
    (tmp_path / "logs" / "pump.log").write_text("event pump running\n")
    assert len(leaks({"STACK_DIR": str(tmp_path), **SECRETS})) >= 1


def test_clean_logs_pass(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "api.log").write_text(
        '127.0.0.1 - - [21/Nov/2026 10:50:07] "GET /wallets/wal_62a23f/transactions?limit=3 HTTP/1.1" 200 -\n'
        '{"level":"INFO","message":"request","request_id":"r","user_id":"usr_1","status":201,"path":"/transfers"}\n')
    (tmp_path / "logs" / "pump.log").write_text("")
    assert leaks({"STACK_DIR": str(tmp_path), **SECRETS}) == []
