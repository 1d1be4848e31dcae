"""Sessions the server can end: a copy of someone's cookie (a stolen laptop, a shared computer, a cookie read
off the wire) stops working the moment the session ends, however it ends; staff sessions idle out."""
from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from fundapp.accounts.models import UserSession
from fundapp.extensions import db, utcnow
from tests.conftest import PASSWORD, sign_in

HOST = "fund.test"


def copy_of(app, client):
    """Another browser holding a copy of ``client``'s cookies (the attacker's)."""
    thief = app.test_client()
    for name in ("session", "remember_token"):
        cookie = client.get_cookie(name, domain=HOST)
        if cookie is not None:
            thief.set_cookie(name, cookie.value, domain=HOST)
    return thief


def sent_to_sign_in(response) -> bool:
    return response.status_code == 302 and "/login" in response.headers["Location"]


def session_token(app, client) -> str:
    """The session id inside the signed cookie."""
    cookie = client.get_cookie("session", domain=HOST)
    return app.session_interface.get_signing_serializer(app).loads(cookie.value)["_user_id"]


@pytest.fixture
def trustee(create_user):
    return create_user("tom@example.org", "trustee")


def test_a_cookie_copied_before_sign_out_no_longer_opens_the_review_queue(app, client, trustee):
    assert sign_in(client, "tom@example.org").status_code == 302
    thief = copy_of(app, client)
    assert thief.get("/review/").status_code == 200  # the copy works while the session is open
    client.post("/logout")
    assert sent_to_sign_in(thief.get("/review/"))
    assert sent_to_sign_in(client.get("/review/"))
    ended = db.session.scalar(db.select(UserSession))
    assert ended.revoked_at is not None and ended.revoked_reason == "logout"


def test_a_remember_me_cookie_copied_before_sign_out_signs_no_one_in(app, client, create_user):
    create_user("ana@example.org", "applicant")
    client.post("/login", data={"email": "ana@example.org", "password": PASSWORD, "remember": "y"})
    assert client.get_cookie("remember_token", domain=HOST) is not None
    thief = app.test_client()
    thief.set_cookie("remember_token", client.get_cookie("remember_token", domain=HOST).value, domain=HOST)
    assert thief.get("/account").status_code == 200  # the cookie alone restores the session
    client.post("/logout")
    assert sent_to_sign_in(thief.get("/account"))


def test_sign_out_everywhere_ends_every_session_of_the_person(app, client, trustee):
    laptop, phone = client, app.test_client()
    sign_in(laptop, "tom@example.org")
    sign_in(phone, "tom@example.org")
    thief = copy_of(app, phone)
    page = laptop.get("/account").get_data(as_text=True)
    assert "Where you are signed in" in page and page.count("<tr><td>") == 2 and "(this device)" in page
    response = laptop.post("/account/sessions/end")
    assert sent_to_sign_in(response)
    for browser in (laptop, phone, thief):
        assert sent_to_sign_in(browser.get("/review/"))
    assert db.session.scalar(db.select(db.func.count(UserSession.id)).where(
        UserSession.revoked_reason == "everywhere")) == 2


def test_a_new_password_ends_the_other_sessions_and_keeps_this_one(app, client, create_user):
    create_user("ana@example.org", "applicant")
    sign_in(client, "ana@example.org")
    other = app.test_client()
    sign_in(other, "ana@example.org")
    thief = copy_of(app, client)  # taken before the change
    response = client.post("/account/password", data={"current": PASSWORD, "password": "a brand new secret 42",
                                                      "confirm": "a brand new secret 42"})
    assert response.status_code == 302
    assert client.get("/account").status_code == 200  # a fresh session for the one who changed it
    assert sent_to_sign_in(other.get("/account"))
    assert sent_to_sign_in(thief.get("/account"))


def test_taking_away_a_trustee_role_ends_their_sessions(app, client, create_user, trustee):
    create_user("tess@example.org", "treasurer")
    sign_in(client, "tom@example.org")
    thief = copy_of(app, client)
    treasurer = app.test_client()
    sign_in(treasurer, "tess@example.org")
    response = treasurer.post(f"/admin/users/{trustee.id}", data={"roles": ["applicant"], "active": "y"})
    assert response.status_code == 302
    for browser in (client, thief):
        assert sent_to_sign_in(browser.get("/account"))
    assert db.session.scalar(db.select(UserSession.revoked_reason).where(UserSession.user_id == trustee.id)) == "roles"


def test_giving_a_trustee_role_ends_the_sessions_opened_without_it(app, client, create_user):
    ana = create_user("ana@example.org", "applicant")
    create_user("tess@example.org", "treasurer")
    sign_in(client, "ana@example.org")
    thief = copy_of(app, client)
    treasurer = app.test_client()
    sign_in(treasurer, "tess@example.org")
    treasurer.post(f"/admin/users/{ana.id}", data={"roles": ["applicant", "trustee"], "active": "y"})
    for browser in (client, thief):
        assert sent_to_sign_in(browser.get("/account"))


def test_changing_only_a_members_own_roles_keeps_their_session(app, client, create_user):
    ana = create_user("ana@example.org", "applicant")
    create_user("tess@example.org", "treasurer")
    sign_in(client, "ana@example.org")
    treasurer = app.test_client()
    sign_in(treasurer, "tess@example.org")
    treasurer.post(f"/admin/users/{ana.id}", data={"roles": ["applicant", "donor"], "active": "y"})
    assert client.get("/account").status_code == 200


def _idle(user, minutes: int) -> None:
    db.session.execute(db.update(UserSession).where(UserSession.user_id == user.id)
                       .values(last_seen_at=utcnow() - timedelta(minutes=minutes)))
    db.session.commit()


def test_a_trustee_idle_for_31_minutes_is_signed_out_and_one_idle_for_29_is_not(app, client, trustee):
    assert app.config["STAFF_IDLE_MINUTES"] == 30
    sign_in(client, "tom@example.org")
    _idle(trustee, 29)
    assert client.get("/review/").status_code == 200
    _idle(trustee, 31)
    assert sent_to_sign_in(client.get("/review/"))
    assert db.session.scalar(db.select(UserSession.revoked_reason)) == "idle"
    _idle(trustee, 0)
    assert sent_to_sign_in(client.get("/review/"))  # ended for good, even if seen again


def test_a_member_may_idle_longer_than_a_trustee(app, client, create_user):
    ana = create_user("ana@example.org", "applicant")
    app.config["MEMBER_IDLE_MINUTES"] = 24 * 60
    sign_in(client, "ana@example.org")
    _idle(ana, 31)
    assert client.get("/account").status_code == 200
    _idle(ana, 24 * 60 + 1)
    assert sent_to_sign_in(client.get("/account"))


def test_last_seen_is_written_at_most_once_a_minute(app, client, create_user):
    ana = create_user("ana@example.org", "applicant")
    sign_in(client, "ana@example.org")
    first = db.session.scalar(db.select(UserSession.last_seen_at))
    for _ in range(3):
        client.get("/account")
    assert db.session.scalar(db.select(UserSession.last_seen_at)) == first  # no write per request
    _idle(ana, 2)
    client.get("/account")
    assert utcnow() - db.session.scalar(db.select(UserSession.last_seen_at)) < timedelta(seconds=30)


def test_only_the_hash_of_a_session_id_is_stored(app, client, create_user):
    create_user("ana@example.org", "applicant")
    sign_in(client, "ana@example.org")
    token = session_token(app, client)
    row = db.session.scalar(db.select(UserSession))
    assert len(token) >= 40 and token not in (row.token_hash, row.ip, row.user_agent)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()


def test_a_session_id_that_was_never_issued_signs_no_one_in(app, create_user):
    create_user("ana@example.org", "applicant")
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = "1"  # the user's id, as the cookie held before sessions were kept on the server
        session["_fresh"] = True
    assert sent_to_sign_in(client.get("/account"))


def _donor_signed_in(app, client, fund):
    """A donor who asked for their link on the portal and followed it."""
    import re

    from fundapp.donations.giving import find_or_create_donor
    from fundapp.mail import OutboxMessage, answer_requests

    find_or_create_donor(fund, "dora@example.org", "Dora")
    db.session.commit()
    client.post("/donor/login", data={"email": "dora@example.org"})
    answer_requests()  # the worker's half: the link is mailed from the outbox
    body = db.session.scalar(db.select(OutboxMessage.body).where(OutboxMessage.to_address == "dora@example.org"))
    link = re.search(r"https?://[^/\s]+(/\S+)", body).group(1)  # the path: the test client is the site
    assert client.get(link).status_code == 302
    assert client.get("/donor/").status_code == 200


def test_a_donors_cookie_copied_before_sign_out_no_longer_opens_their_page(app, client, fund):
    _donor_signed_in(app, client, fund)
    thief = copy_of(app, client)
    assert thief.get("/donor/").status_code == 200
    client.post("/donor/logout")
    for browser in (client, thief):
        response = browser.get("/donor/")
        assert response.status_code == 302 and "/donor/login" in response.headers["Location"]


def test_a_donor_idle_past_the_limit_is_signed_out(app, client, fund):
    app.config["MEMBER_IDLE_MINUTES"] = 60
    _donor_signed_in(app, client, fund)
    db.session.execute(db.update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=59)))
    db.session.commit()
    assert client.get("/donor/").status_code == 200
    db.session.execute(db.update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=61)))
    db.session.commit()
    response = client.get("/donor/")
    assert response.status_code == 302 and "/donor/login" in response.headers["Location"]
    assert db.session.scalar(db.select(UserSession.revoked_reason)) == "idle"


def test_purge_closed_also_removes_sessions_that_ended_long_ago(runner, create_user):
    from fundapp.accounts import sessions as account_sessions

    user = create_user("ana@example.org", "applicant")
    long_ago = utcnow() - account_sessions.ENDED_KEPT - timedelta(days=1)
    kept = {account_sessions.start_session(user, ip="192.0.2.1") for _ in range(2)}  # open, in use
    recent = account_sessions.start_session(user, ip="192.0.2.2")
    old_revoked = account_sessions.start_session(user, ip="192.0.2.3")
    old_idle = account_sessions.start_session(user, ip="192.0.2.4")
    db.session.flush()
    rows = {row.ip: row for row in db.session.scalars(db.select(UserSession))}
    rows["192.0.2.2"].revoked_at, rows["192.0.2.2"].revoked_reason = utcnow() - timedelta(days=3), "logout"
    rows["192.0.2.3"].revoked_at, rows["192.0.2.3"].revoked_reason = long_ago, "logout"
    rows["192.0.2.4"].last_seen_at = long_ago
    db.session.commit()
    assert len(kept) == 2 and recent and old_revoked and old_idle

    result = runner.invoke(args=["fund", "purge-closed"])
    assert "Removed 2 sign-in sessions that ended over 90 days ago." in result.output, result.output
    db.session.expire_all()
    assert sorted(row.ip for row in db.session.scalars(db.select(UserSession))) == \
        ["192.0.2.1", "192.0.2.1", "192.0.2.2"]
    assert "Removed 0 sign-in sessions" in runner.invoke(args=["fund", "purge-closed"]).output
