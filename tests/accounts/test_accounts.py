"""Registration, sign-in and out, password reset by email, profile and roles."""
from __future__ import annotations

import re
import time

import pyotp
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from fundapp.accounts import services
from fundapp.accounts.models import Role, User
from fundapp.audit.models import AuditRecord
from fundapp.extensions import db
from tests.conftest import PASSWORD, run_worker_once, sign_in


def register(client, **overrides):
    data = {"name": "Rosa Parks", "email": "rosa@example.org", "password": PASSWORD,
            "confirm": PASSWORD, "language": "en"}
    data.update(overrides)
    return client.post("/register", data=data)


def registration_link(message) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(r"https?://[^/\s]+(/register/\S+)", body).group(1)


def count_users() -> int:
    return db.session.scalar(db.select(db.func.count(User.id)))


def test_register_mails_a_link_that_makes_an_applicant_signed_in_with_argon2id(client, fund, smtp):
    response = register(client)
    assert response.status_code == 200 and b"Check your email" in response.data
    assert count_users() == 0  # nothing until the address is proven
    assert client.get("/account").status_code == 302
    assert [m["To"] for m in smtp.messages] == ["rosa@example.org"]
    link = registration_link(smtp.messages[0])
    assert client.get(link).status_code == 200 and count_users() == 0  # opening the link changes nothing
    response = client.post(link)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/account/membership")
    user = services.find_user_by_email("rosa@example.org")
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert user.roles_in(fund.id) == {Role.APPLICANT}
    assert client.get("/account").status_code == 200  # signed in
    client.post("/logout")
    response = client.post(link)  # the link works once
    assert response.status_code == 302 and response.headers["Location"].endswith("/register")
    assert count_users() == 1


def test_an_expired_registration_link_is_refused_and_the_sign_up_forgotten(client, fund, smtp):
    from datetime import timedelta

    from fundapp.accounts.models import PendingRegistration
    from fundapp.extensions import utcnow

    register(client)
    link = registration_link(smtp.messages[0])
    pending = db.session.scalar(db.select(PendingRegistration))
    pending.created_at = utcnow() - timedelta(hours=25)
    db.session.commit()
    response = client.post(link)
    assert response.status_code == 302 and response.headers["Location"].endswith("/register")
    assert b"not valid any more" in client.get("/register").data
    assert count_users() == 0
    register(client, email="someone@example.org")  # the next sign-up clears the expired one away
    assert db.session.scalars(db.select(PendingRegistration.email)).all() == ["someone@example.org"]


def test_register_with_the_same_email_in_another_case_makes_no_second_account_and_warns_the_owner(
        client, fund, create_user, smtp):
    create_user("rosa@example.org", "applicant")
    response = register(client, email="ROSA@Example.ORG", name="Someone Else")
    assert response.status_code == 200 and b"Check your email" in response.data
    assert b"already exists" not in response.data
    assert count_users() == 1
    assert [m["To"] for m in smtp.messages] == ["rosa@example.org"]
    assert smtp.messages[0]["Subject"] == "Someone tried to create an account with your address"
    assert "/register/" not in smtp.messages[0].get_body(("plain",)).get_content()


@pytest.mark.parametrize("password, message", [
    ("short1", b"at least 10 characters"),
    ("1234567890", b"too common"),
    ("aaaaaaaaaaaa", b"too common"),
    ("rosa-rosa-rosa", b"name or email"),
])
def test_register_refuses_weak_password_and_keeps_nothing(client, fund, password, message):
    response = register(client, password=password, confirm=password)
    assert response.status_code == 422
    assert message in response.data
    assert b'value="rosa@example.org"' in response.data  # what they typed is kept
    assert count_users() == 0


def test_register_refuses_mismatched_confirmation(client, fund):
    response = register(client, confirm=PASSWORD + "x")
    assert response.status_code == 422
    assert b"not the same" in response.data
    assert count_users() == 0


def test_register_refuses_invalid_email(client, fund):
    response = register(client, email="not-an-email")
    assert response.status_code == 422
    assert b"valid email" in response.data
    assert count_users() == 0


def test_sign_in_is_case_insensitive_on_email(client, create_user):
    create_user("ana@example.org", "applicant")
    response = sign_in(client, "ANA@example.org")
    assert response.status_code == 302
    assert client.get("/account").status_code == 200


def test_wrong_password_and_unknown_email_get_the_same_generic_message(client, create_user):
    create_user("ana@example.org", "applicant")
    wrong = sign_in(client, "ana@example.org", "wrong password here")
    unknown = sign_in(client, "nobody@example.org", "wrong password here")
    assert wrong.status_code == unknown.status_code == 422
    generic = b"The email address or password is not right"
    assert generic in wrong.data and generic in unknown.data
    assert client.get("/account").status_code == 302  # still signed out


def test_inactive_user_cannot_sign_in(client, create_user):
    user = create_user("ana@example.org", "applicant")
    user.active = False
    db.session.commit()
    assert sign_in(client, "ana@example.org").status_code == 422


def test_sign_out_ends_the_session(client, create_user):
    create_user("ana@example.org", "applicant")
    sign_in(client, "ana@example.org")
    assert client.post("/logout").status_code == 302
    response = client.get("/account")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_remember_me_sets_a_lasting_cookie(client, create_user):
    create_user("ana@example.org", "applicant")
    client.post("/login", data={"email": "ana@example.org", "password": PASSWORD, "remember": "y"})
    cookie = client.get_cookie("remember_token", domain="fund.test")
    assert cookie is not None and cookie.http_only


def test_sign_in_redirect_never_leaves_the_site(client, create_user):
    create_user("ana@example.org", "applicant")
    response = client.post("/login?next=https://evil.example/steal",
                           data={"email": "ana@example.org", "password": PASSWORD})
    assert response.headers["Location"] == "/my"  # the member's own work, never the other site


@pytest.mark.parametrize("roles, lands_on", [
    (("treasurer",), "/review/dashboard"), (("trustee",), "/review/"), (("trustee", "treasurer"), "/review/dashboard"),
    (("applicant",), "/my"), (("donor",), "/account"),
])
def test_each_role_lands_on_its_work_after_signing_in(client, create_user, roles, lands_on):
    create_user("who@example.org", *roles)
    response = sign_in(client, "who@example.org")
    assert response.status_code == 302 and response.headers["Location"] == lands_on
    assert client.get(lands_on).status_code == 200


def _link_in(message) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(r"https?://[^/\s]+(/reset/\S+)", body).group(1)


def test_password_reset_by_emailed_link(client, create_user, smtp):
    create_user("ana@example.org", "applicant", name="Ana")
    response = client.post("/reset", data={"email": "ANA@example.org"})
    assert response.status_code == 302
    assert smtp.messages == []  # the worker mails it, off the request
    run_worker_once()
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["To"] == "ana@example.org"
    assert message["Subject"] == "Reset your password"
    link = _link_in(message)
    new = "a brand new passphrase"
    response = client.post(link, data={"password": new, "confirm": new})
    assert response.status_code == 302
    client.post("/logout")
    assert sign_in(client, "ana@example.org", PASSWORD).status_code == 422
    assert sign_in(client, "ana@example.org", new).status_code == 302
    # the link works once
    client.post("/logout")
    response = client.get(link)
    assert response.status_code == 302
    assert b"already been used" in client.get(response.headers["Location"]).data


def test_password_reset_for_unknown_email_says_the_same_and_sends_nothing(client, fund, smtp):
    response = client.post("/reset", data={"email": "nobody@example.org"}, follow_redirects=True)
    assert b"If an account uses that address" in response.data
    run_worker_once()
    assert smtp.messages == []


def test_reset_email_is_in_the_users_language(client, create_user, smtp):
    create_user("ana@example.org", "applicant", language="es")
    client.post("/reset", data={"email": "ana@example.org"})
    run_worker_once()
    assert smtp.messages[0]["Subject"] == "Restablezca su contraseña"


class _TwoHoursAgo(TimestampSigner):
    def get_timestamp(self):
        return int(time.time()) - 7200


def test_expired_reset_link_is_refused(app, client, create_user):
    user = create_user("ana@example.org", "applicant")
    token = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="password-reset", signer=_TwoHoursAgo).dumps(
        {"u": user.id, "v": user.session_version, "p": "reset"})
    response = client.get(f"/reset/{token}")
    assert response.status_code == 302
    assert b"This link has expired" in client.get(response.headers["Location"]).data
    response = client.post(f"/reset/{token}", data={"password": "another passphrase", "confirm": "another passphrase"})
    assert response.status_code == 302
    assert services.authenticate("ana@example.org", PASSWORD) is not None  # unchanged


def test_forged_reset_link_is_refused(client, create_user):
    create_user("ana@example.org", "applicant")
    response = client.get("/reset/not-a-real-token")
    assert response.status_code == 302
    assert b"This link is not valid" in client.get(response.headers["Location"]).data


def test_password_change_signs_out_other_sessions(app, create_user):
    create_user("ana@example.org", "applicant")
    phone, laptop = app.test_client(), app.test_client()
    sign_in(phone, "ana@example.org")
    sign_in(laptop, "ana@example.org")
    new = "a brand new passphrase"
    response = laptop.post("/account/password", data={"current": PASSWORD, "password": new, "confirm": new})
    assert response.status_code == 302
    assert laptop.get("/account").status_code == 200
    assert phone.get("/account").status_code == 302  # the old session no longer counts


def test_password_change_needs_the_current_password(client, create_user):
    create_user("ana@example.org", "applicant")
    sign_in(client, "ana@example.org")
    new = "a brand new passphrase"
    response = client.post("/account/password", data={"current": "wrong one!!", "password": new, "confirm": new})
    assert response.status_code == 422
    assert b"current password is not right" in response.data


def test_profile_language_switch_persists(client, create_user):
    user = create_user("ana@example.org", "applicant")
    sign_in(client, "ana@example.org")
    client.post("/account", data={"name": "Ana María", "language": "es"})
    db.session.refresh(user)
    assert (user.name, user.language) == ("Ana María", "es")
    assert '<html lang="es">' in client.get("/account").get_data(as_text=True)


def test_treasurer_creates_trustee_who_gets_a_set_password_link(client, create_user, fund, smtp):
    create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")
    response = client.post("/admin/users/new", data={"name": "Tom", "email": "Tom@Example.org",
                                                      "roles": ["trustee"], "language": "en"})
    assert response.status_code == 302
    tom = services.find_user_by_email("tom@example.org")
    assert tom.roles_in(fund.id) == {Role.TRUSTEE}
    assert len(smtp.messages) == 1 and smtp.messages[0]["To"] == "tom@example.org"
    link = _link_in(smtp.messages[0])
    other = client.application.test_client()
    chosen = other.post(link, data={"password": "tom's own passphrase", "confirm": "tom's own passphrase"})
    assert chosen.status_code == 302 and chosen.headers["Location"].endswith("/login/setup")
    assert other.get("/account").status_code == 302  # a trustee: not signed in before the second factor
    setup = other.get("/login/setup").get_data(as_text=True)
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', setup).group(1)
    assert 'src="data:image/svg+xml' in setup
    codes_page = other.post("/login/setup", data={"code": pyotp.TOTP(secret).now()})
    codes = re.findall(r"<code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</code>", codes_page.get_data(as_text=True))
    assert codes_page.status_code == 200 and len(set(codes)) == 10
    assert other.get("/account").status_code == 200
    assert smtp.messages[-1]["Subject"] == "An authenticator app is now connected to your account"
    actions = db.session.scalars(db.select(AuditRecord.action)).all()
    assert {"user.create", "user.password_change", "user.second_factor_enabled"} <= set(actions)


def test_treasurer_changes_roles_and_it_is_audited(client, create_user, fund):
    treasurer = create_user("tess@example.org", "treasurer")
    tom = create_user("tom@example.org", "trustee")
    sign_in(client, "tess@example.org")
    response = client.post(f"/admin/users/{tom.id}", data={"roles": ["trustee", "treasurer"], "active": "y"})
    assert response.status_code == 302
    db.session.refresh(tom)
    assert tom.roles_in(fund.id) == {Role.TRUSTEE, Role.TREASURER}
    record = db.session.scalar(db.select(AuditRecord).filter_by(action="user.set_roles"))
    assert record.actor_id == treasurer.id
    assert record.before == {"roles": ["trustee"]} and record.after == {"roles": ["treasurer", "trustee"]}


def test_last_treasurer_cannot_remove_their_own_role(client, create_user, fund):
    treasurer = create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")
    response = client.post(f"/admin/users/{treasurer.id}", data={"roles": ["trustee"], "active": "y"})
    assert response.status_code == 422
    assert b"at least one active treasurer" in response.data
    db.session.refresh(treasurer)
    assert treasurer.roles_in(fund.id) == {Role.TREASURER}


def test_deactivated_user_is_signed_out(app, client, create_user):
    create_user("tess@example.org", "treasurer")
    ana = create_user("ana@example.org", "applicant")
    ana_client = app.test_client()
    sign_in(ana_client, "ana@example.org")
    sign_in(client, "tess@example.org")
    client.post(f"/admin/users/{ana.id}", data={"roles": ["applicant"]})  # active unticked
    assert ana_client.get("/account").status_code == 302


def test_the_people_page_puts_staff_first_and_finds_members_by_name(client, create_user):
    create_user("tess@example.org", "treasurer", name="Tess Treasurer")
    create_user("tom@example.org", "trustee", name="Tom Trustee")
    for n in range(60):
        create_user(f"m{n}@example.org", "applicant", name=f"Member {n:02d}")
    create_user("rosa@example.org", "applicant", name="Rosa Núñez")
    sign_in(client, "tess@example.org")
    page = client.get("/admin/users").get_data(as_text=True)
    staff, members = page.split("Members and donors with an account")
    assert "Tom Trustee" in staff and "Tess Treasurer" in staff and "Member 00" not in staff
    assert "61 accounts" in members and "Page 1 of 2" in members and "Tom Trustee" not in members
    found = client.get("/admin/users?q=n%C3%BA%C3%B1").get_data(as_text=True).split("with an account")[1]
    assert "Rosa Núñez" in found and "Member 01" not in found and "1 account" in found
