"""Proving membership cannot be guessed (issue 18, item 1): a stranger with a new account who tries sequential
member numbers and common surnames is paused before the sixth try and links nothing; the roster's phone digits
are required when the roster has them; every failure reads the same, so nobody learns which numbers exist or
are linked; a right proof of a member already linked alerts the treasurer, who keeps the link or moves it."""
from __future__ import annotations

import re

import pytest

from fundapp import throttle
from fundapp.accounts import membership as roster_service
from fundapp.accounts import services
from fundapp.accounts.models import Member, MembershipClaim
from fundapp.extensions import db
from fundapp.mail import OutboxMessage
from tests.conftest import sign_in
from tests.security_figures import MEMBER_NUMBERS_GUESSED, MEMBERS_LINKED_BY_GUESSING

SURNAMES = ["Garcia", "Smith", "Nguyen", "Johnson", "Martinez", "Brown", "Lopez", "Williams", "Kim", "Jones"]
ROSTER = "member_id,first_name,last_name,email,worksite,unit,on_strike,phone\n" + "".join(
    f"D-{1000 + n},First{n},{SURNAMES[n % len(SURNAMES)]},,North Plant,Production,yes,(555) 555-{100 + n:04d}\n"
    for n in range(50))
#: The one failure message, whatever went wrong.
NEUTRAL = b"could not confirm your membership with these details"


@pytest.fixture
def roster(fund):
    roster_service.import_roster(fund, ROSTER.encode())
    db.session.commit()


def linked() -> int:
    db.session.rollback()
    return db.session.scalar(db.select(db.func.count(Member.id)).where(Member.user_id.is_not(None)))


def prove(client, member_id, last_name, phone="", address="10.0.0.1"):
    return client.post("/account/membership", data={"member_id": member_id, "last_name": last_name,
                                                     "phone_last4": phone},
                       environ_base={"REMOTE_ADDR": address})


def test_guessing_50_member_numbers_is_paused_before_the_sixth_try_and_links_nothing(client, create_user, roster):
    create_user("stranger@example.org", "applicant")
    sign_in(client, "stranger@example.org")
    # the attacker knows the numbering and the common surnames: today's code linked 8 of 8 this way
    statuses = [prove(client, f"D-{1000 + n}", SURNAMES[n % len(SURNAMES)]).status_code
                for n in range(MEMBER_NUMBERS_GUESSED)]
    assert statuses[:5] == [422] * 5
    assert statuses[5] == 429 and set(statuses[5:]) == {429}
    assert linked() == MEMBERS_LINKED_BY_GUESSING


def test_the_right_number_and_name_without_the_phone_digits_link_nothing(client, create_user, roster):
    create_user("stranger@example.org", "applicant")
    sign_in(client, "stranger@example.org")
    assert prove(client, "D-1003", "Johnson").status_code == 422
    assert prove(client, "D-1003", "Johnson", phone="0000").status_code == 422
    assert linked() == 0


def test_the_member_links_with_number_name_and_the_last_4_digits_of_their_phone(client, create_user, roster):
    user = create_user("member3@example.org", "applicant")
    sign_in(client, "member3@example.org")
    assert prove(client, "d-1003", "JOHNSON", phone="555 555 0103").status_code == 302  # any format, any case
    assert db.session.scalar(db.select(Member).filter_by(member_id="D-1003")).user_id == user.id


def test_a_roster_without_phone_digits_still_links_by_number_and_name(client, create_user, fund):
    roster_service.import_roster(fund, b"member_id,first_name,last_name,email,worksite,unit,on_strike\n"
                                 b"A-1,Rosa,Nunez,,North Plant,Production,yes\n")
    db.session.commit()
    create_user("rosa@example.org", "applicant")
    sign_in(client, "rosa@example.org")
    assert prove(client, "A-1", "Núñez").status_code == 302


def test_one_member_number_tried_from_many_accounts_and_addresses_is_paused(app, create_user, roster):
    limit = int(throttle.MEMBERSHIP_MISSES_PER_NUMBER.split()[0])
    statuses = []
    for n in range(limit + 1):
        create_user(f"sock{n}@example.org", "applicant")
        client = app.test_client()
        sign_in(client, f"sock{n}@example.org")
        statuses.append(prove(client, "D-1003", "Johnson", phone=f"{n:04d}", address=f"10.9.0.{n}").status_code)
    assert statuses == [422] * limit + [429]
    assert linked() == 0


def test_one_address_trying_many_accounts_is_paused(app, create_user, roster):
    limit = int(throttle.MEMBERSHIP_TRIES_PER_ADDRESS.split()[0])
    statuses = []
    for n in range(limit // 5 + 2):
        create_user(f"sock{n}@example.org", "applicant")
        client = app.test_client()
        sign_in(client, f"sock{n}@example.org")
        statuses += [prove(client, f"X-{n}-{k}", "Smith", address="10.6.6.6").status_code for k in range(5)]
    assert statuses[:limit] == [422] * limit and set(statuses[limit:]) == {429}


def test_every_failure_reads_the_same_whether_the_number_exists_or_is_linked(app, client, create_user, roster):
    create_user("member3@example.org", "applicant")
    holder_client = app.test_client()
    sign_in(holder_client, "member3@example.org")
    assert prove(holder_client, "D-1003", "Johnson", phone="0103").status_code == 302
    create_user("stranger@example.org", "applicant")
    sign_in(client, "stranger@example.org")
    client.get("/account/membership")  # the "signed in" notice is shown here, not on the answers below
    answers = {
        "no such number": prove(client, "D-9999", "Johnson", phone="0103"),
        "wrong name": prove(client, "D-1004", "Nobody", phone="0104"),
        "wrong phone": prove(client, "D-1004", "Martinez", phone="9999"),
        "already linked": prove(client, "D-1003", "Johnson", phone="0103"),
    }
    # the same page, once what was typed (and the CSRF token) is taken out
    bodies = {why: re.sub(rb'value="[^"]*"', b'value=""', response.data) for why, response in answers.items()}
    assert {r.status_code for r in answers.values()} == {422}
    assert all(NEUTRAL in body for body in bodies.values())
    assert len(set(bodies.values())) == 1, "the pages differ: " + ", ".join(bodies)


def test_a_right_proof_of_a_linked_member_alerts_the_treasurer_who_keeps_or_moves_the_link(
        app, client, create_user, roster):
    create_user("tess@example.org", "treasurer", name="Tess")
    first = create_user("impostor@example.org", "applicant")
    impostor = app.test_client()
    sign_in(impostor, "impostor@example.org")
    assert prove(impostor, "D-1003", "Johnson", phone="0103").status_code == 302  # got there first
    real = create_user("member3@example.org", "applicant")
    sign_in(client, "member3@example.org")
    assert NEUTRAL in prove(client, "D-1003", "Johnson", phone="0103").data
    assert NEUTRAL in prove(client, "D-1003", "Johnson", phone="0103").data  # twice: still one claim
    claims = db.session.scalars(db.select(MembershipClaim)).all()
    assert [(c.claimant_id, c.holder_id, c.resolved_at) for c in claims] == [(real.id, first.id, None)]
    alerts = db.session.scalars(db.select(OutboxMessage).filter_by(to_address="tess@example.org")).all()
    assert [m.subject for m in alerts] == ["A membership was claimed twice"]
    assert "member3@example.org" in alerts[0].body and "D-1003" in alerts[0].body and "/admin/roster" in alerts[0].body
    # a wrong proof of a linked member alerts nobody (it is only a miss)
    create_user("guess@example.org", "applicant")
    guesser = app.test_client()
    sign_in(guesser, "guess@example.org")
    assert NEUTRAL in prove(guesser, "D-1003", "Johnson", phone="1234").data
    assert db.session.scalar(db.select(db.func.count(MembershipClaim.id))) == 1

    treasurer = app.test_client()
    sign_in(treasurer, "tess@example.org")
    page = treasurer.get("/admin/roster").get_data(as_text=True)
    assert "Memberships claimed twice" in page and "member3@example.org" in page and "impostor@example.org" in page
    response = treasurer.post(f"/admin/roster/claims/{claims[0].id}", data={"submit_move": "1"})
    assert response.status_code == 302
    db.session.rollback()
    member = db.session.scalar(db.select(Member).filter_by(member_id="D-1003"))
    assert member.user_id == real.id
    claim = db.session.get(MembershipClaim, claims[0].id)
    assert claim.outcome == "moved" and claim.resolved_at is not None
    assert "Memberships claimed twice" not in treasurer.get("/admin/roster").get_data(as_text=True)
    assert b"D-1003" in client.get("/account/membership").data  # the member now holds it


def test_the_treasurer_may_keep_the_link(app, client, create_user, roster, fund):
    create_user("tess@example.org", "treasurer")
    holder = create_user("member3@example.org", "applicant")
    roster_service.link_member(holder, fund, member_id="D-1003", last_name="Johnson", phone_last4="0103")
    claimant = create_user("second@example.org", "applicant")
    with pytest.raises(services.LinkRefused):
        roster_service.link_member(claimant, fund, member_id="D-1003", last_name="Johnson", phone_last4="0103")
    db.session.commit()
    claim = db.session.scalar(db.select(MembershipClaim))
    sign_in(client, "tess@example.org")
    assert client.post(f"/admin/roster/claims/{claim.id}", data={"submit_keep": "1"}).status_code == 302
    db.session.rollback()
    assert db.session.scalar(db.select(Member).filter_by(member_id="D-1003")).user_id == holder.id
    assert db.session.get(MembershipClaim, claim.id).outcome == "kept"


def test_the_roster_keeps_only_the_last_4_digits_of_a_phone(fund):
    roster_service.import_roster(fund, b"member_id,first_name,last_name,email,worksite,unit,on_strike,phone\n"
                                 b"A-1,Rosa,Nunez,,North Plant,Production,yes,+1 (510) 555-0199\n"
                                 b"A-2,Luis,Smith,,North Plant,Production,yes,\n")
    members = {m.member_id: m.phone_last4 for m in db.session.scalars(db.select(Member))}
    assert members == {"A-1": "0199", "A-2": None}
    with pytest.raises(roster_service.RosterInvalid) as refused:
        roster_service.import_roster(fund, b"member_id,first_name,last_name,email,worksite,unit,on_strike,phone\n"
                                     b"A-3,Ana,Lee,,North Plant,Production,yes,12\n")
    assert "fewer than 4 digits" in str(refused.value.problems[0])
