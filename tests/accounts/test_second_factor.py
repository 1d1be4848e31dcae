"""The second factor: trustees and the treasurer cannot sign in on a password alone; codes work once;
recovery codes stand in for a lost phone, once each; the treasurer can clear someone else's app."""
from __future__ import annotations

import re
import threading
import time

import pyotp

from fundapp.accounts import services, two_factor
from fundapp.accounts.models import Role
from fundapp.audit.models import AuditRecord
from fundapp.extensions import db
from tests.conftest import PASSWORD, authenticator_code, sign_in


def password_only(client, email):
    return client.post("/login", data={"email": email, "password": PASSWORD})


def test_a_trustee_is_not_signed_in_on_the_password_alone(client, create_user):
    create_user("tom@example.org", "trustee")
    response = password_only(client, "tom@example.org")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login/code")
    for page in ("/review/", "/account", "/audit/"):
        assert client.get(page).headers["Location"].startswith("/login")
    wrong = client.post("/login/code", data={"code": "000000"})
    assert wrong.status_code == 422 and "That code is not right" in wrong.get_data(as_text=True)
    assert client.get("/review/").status_code == 302
    right = client.post("/login/code", data={"code": authenticator_code("tom@example.org")})
    assert right.status_code == 302 and client.get("/review/").status_code == 200


def test_a_code_works_once(app, create_user):
    create_user("tom@example.org", "trustee")
    first, second = app.test_client(), app.test_client()
    password_only(first, "tom@example.org")
    password_only(second, "tom@example.org")
    code = authenticator_code("tom@example.org")
    assert first.post("/login/code", data={"code": code}).status_code == 302
    replayed = second.post("/login/code", data={"code": code})  # seen over a shoulder, typed elsewhere
    assert replayed.status_code == 422 and second.get("/review/").status_code == 302


def test_five_wrong_codes_pause_the_account(client, create_user):
    create_user("tom@example.org", "trustee")
    password_only(client, "tom@example.org")
    statuses = [client.post("/login/code", data={"code": f"{n:06d}"}).status_code for n in range(6)]
    assert statuses == [422] * 6
    assert client.post("/login/code", data={"code": authenticator_code("tom@example.org")}).status_code == 429


def test_someone_with_only_the_password_never_sees_the_key_the_trustee_will_confirm(app, create_user, fund):
    """An attacker opens the setup page first; the trustee then connects their own app: the attacker's
    copy of a key is worth nothing."""
    from fundapp.accounts import services as accounts

    accounts.create_user(fund, email="new@example.org", name="New Trustee", password=PASSWORD, roles=[Role.TRUSTEE])
    db.session.commit()
    attacker, trustee = app.test_client(), app.test_client()
    keys = []
    for browser in (attacker, trustee):
        password_only(browser, "new@example.org")
        page = browser.get("/login/setup").get_data(as_text=True)
        keys.append(re.search(r'<code class="secret">([A-Z2-7]+)</code>', page).group(1))
    assert keys[0] != keys[1]
    assert trustee.post("/login/setup", data={"code": pyotp.TOTP(keys[1]).now()}).status_code == 200
    attacker.post("/logout")
    password_only(attacker, "new@example.org")
    stolen = attacker.post("/login/code", data={"code": pyotp.TOTP(keys[0]).now()})
    assert stolen.status_code == 422 and attacker.get("/review/").status_code == 302


def test_a_session_made_trustee_while_open_must_pass_the_second_factor(client, create_user, fund):
    ana = create_user("ana@example.org", "applicant")
    sign_in(client, "ana@example.org")
    assert client.get("/account").status_code == 200
    services.set_roles(ana, fund, [Role.APPLICANT, Role.TRUSTEE], actor=None)
    db.session.commit()
    assert client.get("/review/").headers["Location"].startswith("/login")  # signed out, not let in
    assert client.get("/account").headers["Location"].startswith("/login")


def test_the_same_code_sent_twice_at_once_is_taken_once(app, create_user):
    create_user("tom@example.org", "trustee")
    browsers = [app.test_client() for _ in range(4)]
    for browser in browsers:
        password_only(browser, "tom@example.org")
    code = authenticator_code("tom@example.org")
    start, answers = threading.Barrier(len(browsers)), []

    def send(browser):
        with app.app_context():
            start.wait()
            answers.append(browser.post("/login/code", data={"code": code}).status_code)

    threads = [threading.Thread(target=send, args=(b,)) for b in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(answers) == [302, 422, 422, 422]


def test_wrong_fresh_codes_for_a_payment_pause_the_person(client, create_user, roster, app):  # noqa: F811
    from fundapp.applications.models import Application
    from fundapp.review import services as review
    from tests.factories import fund_with, send, striker

    app.config["STEP_UP_ABOVE_CENTS"] = 1_000
    fund_with(roster, 100_000)
    striker(client, create_user, roster)
    send(client, amount="250")
    client.post("/logout")
    application = db.session.scalar(db.select(Application))
    tom = create_user("tom@example.org", "trustee")
    review.approve(roster, application, 25_000, actor=tom)
    db.session.commit()
    sign_in(client, "tom@example.org")
    form = {"amount": "250", "method": "cheque", "reference": "1", "paid_on": "2026-11-27"}
    statuses = [client.post(f"/review/{application.id}/pay", data={**form, "code": f"{n:06d}"}).status_code
                for n in range(6)]
    assert statuses == [302] * 5 + [429]


def test_a_recovery_code_signs_in_once_and_is_on_the_record(client, create_user):
    tom = create_user("tom@example.org", "trustee")
    codes = two_factor.new_recovery_codes(tom)
    db.session.commit()
    password_only(client, "tom@example.org")
    assert client.post("/login/code", data={"code": codes[0].upper()}).status_code == 302  # however typed
    assert client.get("/review/").status_code == 200
    client.post("/logout")
    password_only(client, "tom@example.org")
    assert client.post("/login/code", data={"code": codes[0]}).status_code == 422
    assert two_factor.recovery_codes_left(tom) == 9
    assert db.session.scalar(db.select(db.func.count(AuditRecord.id)).filter_by(action="user.recovery_code_used")) == 1


def test_the_wait_for_the_code_ends_after_ten_minutes(client, create_user):
    create_user("tom@example.org", "trustee")
    password_only(client, "tom@example.org")
    with client.session_transaction() as session:
        session["pending_since"] = int(time.time()) - 601
    late = client.post("/login/code", data={"code": authenticator_code("tom@example.org")})
    assert late.status_code == 302 and late.headers["Location"].endswith("/login")
    assert client.get("/review/").status_code == 302


def test_someone_made_a_trustee_connects_an_app_at_the_next_sign_in(client, create_user, fund, smtp):
    ana = create_user("ana@example.org", "applicant")
    assert sign_in(client, "ana@example.org").status_code == 302  # an applicant: the password is enough
    client.post("/logout")
    services.set_roles(ana, fund, [Role.APPLICANT, Role.TRUSTEE], actor=None)
    db.session.commit()
    response = password_only(client, "ana@example.org")
    assert response.headers["Location"].endswith("/login/setup")
    assert client.get("/review/").status_code == 302
    assert client.post("/login/setup", data={"code": "123456"}).status_code == 422
    setup = client.get("/login/setup")
    assert setup.headers["Cache-Control"] == "no-store"  # the app's key is on it
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', setup.get_data(as_text=True)).group(1)
    db.session.refresh(ana)
    assert ana.totp_secret is None  # kept in this browser's session only, until confirmed
    page = client.post("/login/setup", data={"code": pyotp.TOTP(secret).now()})
    assert page.status_code == 200 and "Your recovery codes" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert client.get("/review/").status_code == 200
    assert smtp.messages[-1]["To"] == "ana@example.org"


def test_the_treasurer_clears_a_lost_phone_but_not_their_own(client, create_user):
    create_user("tess@example.org", "treasurer")
    tom = create_user("tom@example.org", "trustee")
    tom_client = client.application.test_client()
    sign_in(tom_client, "tom@example.org")
    sign_in(client, "tess@example.org")
    tess = services.find_user_by_email("tess@example.org")
    own = client.post(f"/admin/users/{tess.id}/second-factor/clear", follow_redirects=True)
    assert "You cannot clear your own authenticator app" in own.get_data(as_text=True)
    assert two_factor.enrolled(tess)
    client.post(f"/admin/users/{tom.id}/second-factor/clear")
    db.session.refresh(tom)
    assert not two_factor.enrolled(tom) and two_factor.recovery_codes_left(tom) == 0
    assert tom_client.get("/review/").status_code == 302  # his open session ended
    assert password_only(tom_client, "tom@example.org").headers["Location"].endswith("/login/setup")


def test_a_treasurer_cannot_reach_people_of_another_fund(client, create_user):
    from fundapp.funds.models import Fund

    create_user("tess@example.org", "treasurer")
    other = Fund(slug="other", name="Other", legal_name="Other", ein="1", legal_form="501(c)(5)", currency="USD",
                 contact_email="o@example.org")
    db.session.add(other)
    db.session.flush()
    stranger = services.create_user(other, email="sam@example.org", name="Sam", password=PASSWORD,
                                    roles=[Role.TRUSTEE])
    db.session.commit()
    sign_in(client, "tess@example.org")
    assert client.get(f"/admin/users/{stranger.id}").status_code == 404
    assert client.post(f"/admin/users/{stranger.id}/second-factor/clear").status_code == 404
