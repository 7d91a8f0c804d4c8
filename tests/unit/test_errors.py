from chalice import Response

from chalicelib.api.errors import STATUS_BY_CODE, error_response, translate_chalice_error
from chalicelib.domain import errors


def all_error_classes():
    seen, todo = [], [errors.DomainError]
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo.extend(cls.__subclasses__())
    return seen


def test_every_domain_error_code_has_a_status():
    missing = [c.__name__ for c in all_error_classes() if c.code not in STATUS_BY_CODE]
    assert missing == []


def test_error_body_shape_and_status():
    r = error_response(errors.InvalidRequest("bad", details=[{"field": "amount", "message": "x"}]))
    assert r.status_code == 400
    assert r.body == {"error": {"code": "invalid_request", "message": "bad",
                                "details": [{"field": "amount", "message": "x"}]}}


def test_details_are_omitted_when_absent():
    assert error_response(errors.NotFound()).body == {
        "error": {"code": "not_found", "message": "The resource was not found."}}


def test_too_many_requests_carries_retry_after():
    r = error_response(errors.TooManyRequests(retry_after=42))
    assert r.status_code == 429 and r.headers["Retry-After"] == "42"


def test_unknown_code_is_a_500_not_a_guess():
    class Weird(errors.DomainError):
        code = "never_mapped"

    r = error_response(Weird("secret detail"))
    assert r.status_code == 500
    assert r.body["error"]["code"] == "internal_error"
    assert "secret" not in str(r.body)


def test_chalice_shapes_are_translated():
    r = translate_chalice_error(Response(body={"Code": "MethodNotAllowedError", "Message": "Unsupported method: PUT"},
                                         status_code=405, headers={"Allow": "GET"}))
    assert r.status_code == 405 and r.body["error"]["code"] == "method_not_allowed"
    assert r.headers["Allow"] == "GET"
    r = translate_chalice_error(Response(body={"Code": "InternalServerError", "Message": "Traceback..."},
                                         status_code=500))
    assert r.body == {"error": {"code": "internal_error", "message": "An internal error occurred."}}


def test_successful_and_own_responses_are_left_alone():
    ok = Response(body={"Code": "x"}, status_code=200)
    assert translate_chalice_error(ok) is ok
    ours = error_response(errors.NotFound())
    assert translate_chalice_error(ours) is ours
