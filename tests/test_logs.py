"""The log an operator reads: with LOG_FORMAT=json each line is one JSON object with the request's id, user (an id),
fund, route, status and duration, and no email address, sign-in link or mail body; the request id comes back in
X-Request-ID and on error pages, for a person to quote."""
from __future__ import annotations

import json
import logging

import pytest

from fundapp import create_app, logs
from fundapp.extensions import db
from fundapp.mail import REDACTED
from tests.conftest import base_config, run_worker_once, sign_in

EMAIL = "logged.member@example.org"


@pytest.fixture
def json_app(app, database_url, tmp_path):
    """A second app on the same database, logging as production does (JSON on standard error)."""
    app_json = create_app(base_config(database_url, LOG_FORMAT="json", DOCUMENTS_DIR=str(tmp_path)))
    yield app_json
    root = logging.getLogger()
    root.removeHandler(logs._HANDLER)
    root.setLevel(logging.WARNING)
    with app_json.app_context():
        db.session.remove()
        db.engine.dispose()


def _lines(captured: str) -> list[dict]:
    return [json.loads(line) for line in captured.splitlines() if line.strip()]


def test_a_request_ends_with_one_json_line_with_its_id_user_route_status_and_duration(json_app, fund, create_user,
                                                                                      capsys):
    user = create_user(EMAIL)
    client = json_app.test_client()
    assert sign_in(client, EMAIL).status_code == 302
    capsys.readouterr()
    answer = client.get("/account")
    assert answer.status_code == 200
    lines = _lines(capsys.readouterr().err)
    (line,) = [line for line in lines if line["logger"] == logs.REQUEST_LOGGER]
    assert line["request_id"] == answer.headers["X-Request-ID"] and len(line["request_id"]) == 32
    assert line["user_id"] == user.id and line["fund"] == fund.slug and line["route"] == "/account"
    assert line["status"] == 200 and line["duration_ms"] >= 0 and line["level"] == "INFO" and line["message"] == "request"
    assert line["timestamp"].endswith("+00:00")


def test_a_route_is_logged_as_its_rule_never_with_the_token(json_app, fund, capsys):
    client = json_app.test_client()
    client.get("/thanks/secret-token-in-the-path")
    (line,) = [line for line in _lines(capsys.readouterr().err) if line["logger"] == logs.REQUEST_LOGGER]
    assert line["route"] == "/thanks/<token>" and line["status"] == 404 and line["user_id"] is None
    assert "secret-token-in-the-path" not in json.dumps(line)


def test_a_failed_request_is_logged_with_its_rule_never_with_the_token(json_app, fund, capsys):
    from fundapp.policy import public

    @public
    def explode(token):
        raise RuntimeError("the page broke")

    json_app.add_url_rule("/explode/<token>", "explode", explode)
    json_app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: the error is logged, a 500 page shown
    answer = json_app.test_client().get("/explode/secret-token-in-the-path")
    assert answer.status_code == 500
    lines = _lines(capsys.readouterr().err)
    (failure,) = [line for line in lines if line["level"] == "ERROR"]
    assert failure["message"] == "Exception on /explode/<token> [GET]" and "the page broke" in failure["exception"]
    assert failure["request_id"] == answer.headers["X-Request-ID"]
    assert "secret-token-in-the-path" not in json.dumps(lines)


def test_an_error_page_shows_the_request_id(client, fund):
    answer = client.get("/no-such-page", headers={"X-Request-ID": "abcdef1234567890"})
    assert answer.status_code == 404 and answer.headers["X-Request-ID"] == "abcdef1234567890"
    assert "quote this reference: abcdef1234567890" in answer.get_data(as_text=True)
    fresh = client.get("/no-such-page", headers={"X-Request-ID": "not a valid id!"})
    assert fresh.headers["X-Request-ID"] in fresh.get_data(as_text=True) and "not a valid id" not in fresh.get_data(
        as_text=True)


def test_sign_in_and_reset_requests_leave_no_email_in_the_log(json_app, fund, create_user, capsys, caplog):
    create_user(EMAIL)
    client = json_app.test_client()
    caplog.set_level(logging.INFO)
    assert client.post("/login", data={"email": EMAIL, "password": "wrong password"}).status_code == 422
    assert client.post("/login", data={"email": "nobody.here@example.org", "password": "x"}).status_code == 422
    assert sign_in(client, EMAIL).status_code == 302
    client.post("/logout")
    assert client.post("/reset", data={"email": EMAIL}).status_code == 302
    with json_app.app_context():  # the worker answers the reset request: its mail goes to the log (no MAIL_SERVER)
        run_worker_once()
    captured = capsys.readouterr().err
    lines = _lines(captured)
    assert any(line["message"].startswith("Mail (no MAIL_SERVER set)") for line in lines)  # the reset mail, logged
    assert {"/login", "/reset"} <= {line.get("route") for line in lines}
    everything = captured + "\n".join(logs.JsonFormatter().format(record) for record in caplog.records)
    assert "@example.org" not in everything and "/reset/" not in everything and "Test Person" not in everything


def test_scrub_removes_addresses_and_sign_in_links(app):
    assert logs.scrub("to pat@example.org") == f"to {logs.EMAIL_REMOVED}"  # outside the app: addresses still go
    with app.app_context():
        text = logs.scrub("to pat.picket+fund@mail.example.org: http://127.0.0.1:5000/reset/abc.def-ghi now")
    assert "pat.picket" not in text and "abc.def-ghi" not in text and logs.EMAIL_REMOVED in text
    assert REDACTED in text
