"""Object-level access: every route that takes an object's id, asked by someone the route is open to
for an object that is not theirs to see (another fund's, another member's, another donor's), answers
404 or 403, never the object, and changes nothing.

The routes are read from the app's URL map, so a new route with an id in its URL is covered (or fails
``test_every_id_route_is_covered``) without anyone remembering to add it here.
"""
from __future__ import annotations

import pytest

from fundapp.accounts.models import Member, MembershipClaim
from fundapp.applications.models import Application
from fundapp.audit.models import AuditRecord
from fundapp.donations.models import Donation, MonthlyGift
from fundapp.extensions import db
from fundapp.funds.models import Fund
from fundapp.review.models import GrantPayment
from fundapp.setup import init_fund
from tests.access_table import EXPECTED
from tests.conftest import enrol, run_worker_once, sign_in
from tests.security_figures import ID_ARGUMENTS
from tests.worlds import someone_elses_world


def other_fund() -> Fund:
    fund = init_fund(dict(slug="other-local", name="Other Local", legal_name="Other Local Fund", ein="98-7654321",
                          legal_form="501(c)(5)", currency="USD", contact_email="fund@other.example.org")).fund
    db.session.commit()
    return fund


def id_routes(app):
    for rule in app.url_map.iter_rules():
        arguments = set(rule.arguments) & ID_ARGUMENTS
        if arguments:
            yield rule.endpoint, "GET" if "GET" in rule.methods else "POST", rule


def snapshot():
    """What a request must not change: statuses, amounts, voids, refunds, roles, second factors."""
    db.session.rollback()
    return (
        sorted(db.session.execute(db.select(Application.id, Application.status, Application.amount_paid_cents))),
        sorted(db.session.execute(db.select(GrantPayment.id, GrantPayment.voided_at))),
        sorted(db.session.execute(db.select(Donation.id, Donation.refunded_cents, Donation.wall_status))),
        sorted(db.session.execute(db.select(MonthlyGift.id, MonthlyGift.ended_at))),
        sorted(db.session.execute(db.select(MembershipClaim.id, MembershipClaim.resolved_at))),
        db.session.scalar(db.select(db.func.count(AuditRecord.id)).where(AuditRecord.action.not_in(
            ["document.view"]))),
    )


def test_every_id_route_is_covered(app):
    roles = {EXPECTED[endpoint] if isinstance(EXPECTED[endpoint], str) else "roles"
             for endpoint, _m, _r in id_routes(app)}
    assert roles <= {"roles", "donor_link"}, "an id route open to everyone needs its own object check here"


def ask_everything(client, app, ids, allowed, prefix: str = "") -> list[str]:
    """Ask every id route the signed-in person may open for the objects ``ids``, at the addresses of the fund
    ``prefix`` names ("/f/<slug>", or the installation's own fund's for "")."""
    leaks = []
    for endpoint, method, rule in id_routes(app):
        if not allowed(EXPECTED[endpoint]):
            continue
        values = {arg: ids[arg] for arg in rule.arguments}
        with app.test_request_context():
            from flask import url_for

            url = prefix + url_for(endpoint, **values)
        response = client.open(url, method=method, data={"reason": "x", "amount": "1", "code": "000000",
                                                         "status": "hidden"})
        if response.status_code not in (403, 404):
            leaks.append(f"{method} {url}: {response.status_code}")
    return leaks


@pytest.mark.parametrize("persona", ["trustee", "treasurer"])
def test_trustees_and_the_treasurer_never_reach_another_funds_objects(app, client, fund, create_user, persona):
    theirs = someone_elses_world(other_fund(), "other")
    someone_elses_world(fund, "ours")  # this fund has objects too: the ids are real ones, just not ours
    create_user(f"{persona}@example.org", *({"trustee": ["trustee"], "treasurer": ["treasurer", "trustee"]}[persona]))
    assert sign_in(client, f"{persona}@example.org").status_code == 302
    before = snapshot()
    leaks = ask_everything(client, app, theirs, lambda rule: isinstance(rule, set) and persona in rule)
    assert leaks == []
    assert snapshot() == before


STAFF = {"trustee": ["trustee"], "treasurer": ["treasurer", "trustee"], "applicant": ["applicant"]}


@pytest.mark.parametrize("here, there", [("trustee", "treasurer"), ("treasurer", "trustee"),
                                         ("applicant", "treasurer")])
def test_someone_with_roles_in_two_funds_reaches_each_funds_objects_only_at_that_funds_addresses(
        app, client, fund, create_user, here, there):
    """The same person holds one role in the installation's fund and another in a second fund: at each fund's
    addresses, the other fund's objects answer 404 or 403, whatever the person may do there."""
    from fundapp.accounts.models import RoleGrant

    other = other_fund()
    theirs = someone_elses_world(other, "other")
    ours = someone_elses_world(fund, "ours")
    person = create_user("both@example.org", *STAFF[here])
    for role in STAFF[there]:
        db.session.add(RoleGrant(user_id=person.id, fund_id=other.id, role=role))
    db.session.flush()
    if person.totp_secret is None:  # a treasurer somewhere signs in with a second factor everywhere
        enrol(person)
    db.session.commit()
    assert sign_in(client, "both@example.org").status_code == 302
    before = snapshot()
    leaks = ask_everything(client, app, theirs, lambda rule: isinstance(rule, set) and bool(set(STAFF[here]) & rule))
    leaks += ask_everything(client, app, ours, lambda rule: isinstance(rule, set) and bool(set(STAFF[there]) & rule),
                            prefix=f"/f/{other.slug}")
    assert leaks == []
    assert snapshot() == before
    # and each fund's own objects are there at its own addresses (the check above could not pass by refusing all)
    from flask import url_for

    with app.test_request_context():
        theirs_case, ours_case = (url_for("review.case", application_id=world["application_id"])
                                  for world in (theirs, ours))
    if "trustee" in STAFF[there]:
        assert client.get(f"/f/{other.slug}{theirs_case}").status_code == 200
    if "trustee" in STAFF[here]:
        assert client.get(ours_case).status_code == 200


def test_a_member_never_reaches_another_members_application_or_documents(app, client, fund, create_user):
    theirs = someone_elses_world(fund, "neighbour")
    rosa = create_user("rosa@example.org", "applicant")
    db.session.add(Member(fund_id=fund.id, member_id="R-1", first_name="Rosa", last_name="N", worksite="North",
                          unit="U", on_strike=True, user_id=rosa.id))
    db.session.commit()
    sign_in(client, "rosa@example.org")
    before = snapshot()
    leaks = ask_everything(client, app, theirs, lambda rule: isinstance(rule, set) and "applicant" in rule)
    assert leaks == []
    assert snapshot() == before


def test_a_donor_never_reaches_another_donors_gifts(app, client, fund, smtp):
    import re

    theirs = someone_elses_world(fund, "stranger")
    mine = someone_elses_world(fund, "me")
    client.post("/donor/login", data={"email": "donor-me@example.org"})  # the emailed sign-in link
    run_worker_once()
    link = re.search(r"https?://[^/\s]+(/donor/link/\S+)", smtp.messages[-1].get_body(("plain",)).get_content()).group(1)
    client.get(link)
    assert client.get("/donor/").status_code == 200
    before = snapshot()
    leaks = ask_everything(client, app, theirs, lambda rule: rule == "donor_link")
    assert leaks == []
    assert snapshot() == before
    assert client.get(f"/donor/receipt/{mine['donation_id']}.pdf").status_code == 200  # their own: yes
