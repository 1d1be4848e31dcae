"""Every route against every role, and CSRF on every form.

``EXPECTED`` is written by hand, not read from the code: a route added without
an entry here fails ``test_every_route_is_in_the_table``, and a route whose
rule in the code differs from this table fails the matrix.
"""
from __future__ import annotations

import pytest

from fundapp.accounts import services as account_services
from fundapp.accounts import sessions as account_sessions
from fundapp.extensions import db
from tests.access_table import (
    DONOR,
    EXPECTED,
    OPERATOR,
    PENDING,
    PERSONAS,
    PUBLIC,
    SIGNED_IN,
    SIGNED_INSTEAD_OF_CSRF,
    URL_VALUES,
)
from tests.conftest import enrol, sign_in


def _routes(app):
    for rule in app.url_map.iter_rules():
        method = "GET" if "GET" in rule.methods else "POST"
        values = {arg: URL_VALUES[arg] for arg in rule.arguments}
        yield rule.endpoint, method, rule.rule, values


def test_every_route_is_in_the_table(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - EXPECTED.keys() == set(), "new routes need an entry in EXPECTED"
    assert EXPECTED.keys() - endpoints == set(), "EXPECTED names routes that no longer exist"


def _allowed(rule, persona) -> bool:
    if rule == PUBLIC:
        return True
    if persona == "anonymous" or rule in (DONOR, PENDING):
        return False
    if rule == OPERATOR:
        return persona == "operator"
    if persona == "operator":  # a donor in the fund, as made below
        return _allowed(rule, "donor")
    return rule == SIGNED_IN or persona in rule


@pytest.mark.parametrize("at", ["the installation's fund", "a second fund"])
@pytest.mark.parametrize("persona", PERSONAS)
def test_route_by_role_matrix(app, client, create_user, persona, at):
    """Every route, asked by each persona: at the installation's own fund's addresses with the persona's role
    there, or at a second fund's (/f/<slug>/...) with the role held in that fund only."""
    prefix = ""
    if persona == "operator":  # no role in the fund: the host's pages only, and what any signed-in person sees
        user = create_user("operator@example.org", "donor")
        user.is_operator = True
        enrol(user)
        db.session.commit()
    elif persona != "anonymous":
        user = create_user(f"{persona}@example.org", persona)
    if at == "a second fund":
        from fundapp.setup import open_fund

        second = open_fund({"slug": "unit-2", "name": "Unit Two", "legal_name": "Unit Two Fund", "ein": "98-7654321",
                            "contact_email": "u2@example.org"}, treasurer_email="rosa@example.org",
                           treasurer_name="Rosa").fund
        prefix = f"/f/{second.slug}"
        if persona not in ("anonymous", "operator"):
            for grant in user.grants:
                grant.fund_id = second.id  # the role is held in the second fund, not in the installation's
        db.session.commit()
    if persona != "anonymous":
        sign_in(client, f"{persona}@example.org")
    failures = []
    with app.test_request_context():
        routes = [(e, m, prefix + __import__("flask").url_for(e, **v)) for e, m, _r, v in _routes(app)]
    for endpoint, method, url in routes:
        if endpoint in ("accounts.logout", "accounts.end_all_sessions"):
            continue  # checked below: it would end this persona's session
        response = client.open(url, method=method)
        to_login = response.status_code == 302 and "/login" in response.headers.get("Location", "")
        denied = response.status_code == 403 or to_login
        if _allowed(EXPECTED[endpoint], persona) == denied:
            failures.append(f"{method} {url}: {response.status_code} {response.headers.get('Location', '')}")
        if persona == "anonymous" and not _allowed(EXPECTED[endpoint], persona):
            if not to_login:
                failures.append(f"{method} {url}: anonymous should be sent to sign in")
    assert failures == []
    logout = client.post("/logout")
    assert (logout.status_code == 302 and "/login" in logout.headers["Location"]) == (persona == "anonymous")
    browser = client
    if persona != "anonymous":  # sign out everywhere, from a second session of the persona's
        browser = app.test_client()
        with browser.session_transaction() as session:
            session["_user_id"] = account_sessions.start_session(account_services.find_user_by_email(
                f"{persona}@example.org"))
            session["second_factor"] = True
        db.session.commit()
        assert browser.get("/account").status_code == 200
    everywhere = browser.post("/account/sessions/end")  # anonymous: sent to sign in; anyone else: signed out
    assert everywhere.status_code == 302 and "/login" in everywhere.headers["Location"]
    assert browser.get("/account").status_code == 302


def test_forbidden_page_is_a_proper_403(client, create_user):
    create_user("ana@example.org", "applicant")
    sign_in(client, "ana@example.org")
    response = client.get("/admin/users")
    assert response.status_code == 403
    assert b"You do not have access to this page" in response.data


def test_roles_in_another_fund_do_not_count(app, client, create_user):
    from fundapp.accounts.models import RoleGrant
    from fundapp.funds.models import Fund

    user = create_user("ana@example.org", "applicant")
    other = Fund(slug="other", name="Other", legal_name="Other", ein="1", legal_form="501(c)(5)",
                 currency="USD", contact_email="o@example.org")
    db.session.add(other)
    db.session.flush()
    db.session.add(RoleGrant(user_id=user.id, fund_id=other.id, role="treasurer"))
    db.session.flush()
    enrol(user)  # a treasurer somewhere signs in with a second factor everywhere
    db.session.commit()
    assert sign_in(client, "ana@example.org").status_code == 302
    assert client.get("/admin/users").status_code == 403


def test_a_view_without_a_rule_is_denied(database_url):
    from fundapp import create_app
    from tests.conftest import base_config

    app = create_app(base_config(database_url))

    @app.get("/forgotten")
    def forgotten():
        return "should never be served"

    assert app.test_client().get("/forgotten").status_code == 403


def test_every_post_without_csrf_token_is_refused(app, create_user):
    app.config["WTF_CSRF_ENABLED"] = True
    user = create_user("tess@example.org", "treasurer", "applicant")
    client = app.test_client()
    with client.session_transaction() as session:  # signed in without posting the login form
        session["_user_id"] = account_sessions.start_session(user)  # a server-side session, as at sign-in
        db.session.commit()
        session["_fresh"] = True
        session["second_factor"] = True  # as after the code page
    posts = [(e, r, v) for e, m, r, v in _routes(app)
             if "POST" in app.url_map._rules_by_endpoint[e][0].methods and e not in SIGNED_INSTEAD_OF_CSRF]
    assert len(posts) >= 10
    with app.test_request_context():
        urls = [__import__("flask").url_for(e, **v) for e, _r, v in posts]
    for url in urls:
        response = client.post(url, data={"email": "x@example.org", "password": "whatever it is"})
        assert response.status_code == 400, url
        assert b"The form had expired" in response.data, url


def test_the_webhook_refuses_an_unsigned_post_even_with_csrf_on(app):
    app.config["WTF_CSRF_ENABLED"] = True
    response = app.test_client().post("/stripe/webhook", data=b'{"id": "evt_1", "type": "charge.succeeded"}',
                                      content_type="application/json")
    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid signature or payload"}
