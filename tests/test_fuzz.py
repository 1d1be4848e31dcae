"""Hostile input, generated (hypothesis): every form that takes a POST, sent random and malicious values by
the people it is open to, never answers 500; when it refuses (4xx), nothing of the request stays in the
database. The webhook, sent random bodies and signatures, answers 400 and stores nothing."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fundapp.audit.models import AuditRecord
from fundapp.donations.models import StripeEvent
from fundapp.extensions import db
from tests.access_table import EXPECTED, PUBLIC, SIGNED_IN, URL_VALUES
from tests.conftest import sign_in
from tests.security_figures import FORMS_PER_ROUTE, QUERIES_PER_ROUTE, WEBHOOK_BODIES

#: Every field name our forms and pages send (forms.py fields, request.form reads, template inputs).
FIELDS = sorted(set("""
active address amount anonymous approvals_needed attested body card_number categories category category_cap code
confirm cover_fee current cvc dedication_kind dedication_name deposited_on documents dual_approval_above email
expiry file frequency household_members household_size language last_name member_id method month name need on_wall
one_open_application other_amount password payee_details payee_kind payee_name phone reason received_on reference
remember reserve roles save strike_cap submit wall_message weekly_cap all attempt back_wall criteria decision gifts
next note paid_on relation status grants wall year kind lang q from to as_of
""".split()))

HOSTILE = st.sampled_from([
    "", " ", "0", "-1", "1e309", "NaN", "99999999999999999999", "12.345", "1,000,000.00", "$5", "2026-02-30",
    "9999-12-31", "=cmd|' /C calc'!A0", "<script>alert(1)</script>", "'; DROP TABLE users; --", "%s%s%n",
    "\u202eevil\u202c", "\x00", "שלום", "🙂" * 50, "a" * 5_000, "../../etc/passwd", "{{7*7}}", "${7*7}",
    "true", "false", "on", "None", "null", "[]", "A-1", "rent", "cheque", "member", "treasurer",
])
VALUES = st.one_of(HOSTILE, st.text(max_size=300), st.integers().map(str))
FORMS = st.dictionaries(st.sampled_from(FIELDS), st.one_of(VALUES, st.lists(VALUES, max_size=3)), max_size=12)


#: Audit records a refusal writes on purpose (a failed step-up is kept on the record).
REFUSALS_ON_RECORD = {"payment.step_up_failed"}


def post_routes(app, persona: str):
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.endpoint in ("donations.stripe_webhook", "accounts.logout",
                                                           "accounts.end_all_sessions", "donor.logout"):
            continue
        access = EXPECTED[rule.endpoint]
        if access == PUBLIC or access == SIGNED_IN or (isinstance(access, set) and persona in access):
            yield rule


def row_counts() -> dict[str, int]:
    db.session.rollback()
    return {table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
            for table in db.metadata.sorted_tables if table.name != "audit_records"}


@pytest.mark.parametrize("persona", ["anonymous", "applicant", "treasurer"])
def test_no_form_answers_500_or_keeps_half_of_a_refused_request(app, client, create_user, fund, persona):
    from tests.worlds import someone_elses_world

    someone_elses_world(fund, "fuzz")  # real objects behind the ids in the URLs
    if persona != "anonymous":
        create_user(f"{persona}@example.org", *(["treasurer", "trustee"] if persona == "treasurer" else [persona]))
        assert sign_in(client, f"{persona}@example.org").status_code == 302
    with app.test_request_context():
        from flask import url_for

        routes = [(rule.endpoint, url_for(rule.endpoint, **{a: URL_VALUES[a] for a in rule.arguments}))
                  for rule in post_routes(app, persona)]
    assert len(routes) >= {"anonymous": 8, "applicant": 12, "treasurer": 30}[persona]
    seen = {"answers": 0, "refused": 0}

    @settings(max_examples=FORMS_PER_ROUTE, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(form=FORMS)
    def send_everywhere(form):
        for endpoint, url in routes:
            before = row_counts()
            last_audit = db.session.scalar(sa.select(sa.func.max(AuditRecord.id))) or 0
            response = client.post(url, data=form)
            seen["answers"] += 1
            assert response.status_code < 500, (endpoint, form, response.status_code)
            if 400 <= response.status_code < 500:
                seen["refused"] += 1
                assert row_counts() == before, (endpoint, form)
                written = set(db.session.scalars(sa.select(AuditRecord.action).where(AuditRecord.id > last_audit)))
                assert written <= REFUSALS_ON_RECORD, (endpoint, form, written)

    send_everywhere()
    assert seen["refused"] > seen["answers"] // 3  # the hostile values were mostly refused, not ignored


@settings(max_examples=WEBHOOK_BODIES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.binary(max_size=2_000), st.text(max_size=2_000).map(str.encode),
                      st.dictionaries(st.text(max_size=20), st.text(max_size=50)).map(lambda d: repr(d).encode())),
       signature=st.one_of(st.none(), st.text(st.characters(blacklist_characters="\r\n"), max_size=200),
                           st.just("t=1,v1=" + "0" * 64)))  # (a header cannot carry a line break)
def test_the_webhook_refuses_random_bodies_and_signatures_and_stores_nothing(client, fund, body, signature):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature.encode("utf-8", "surrogatepass").decode("latin-1", "replace")
    response = client.post("/stripe/webhook", data=body, headers=headers)
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count(StripeEvent.id))) == 0


def test_a_nul_byte_in_any_form_or_query_is_refused_before_anything_is_written(client, create_user):
    """PostgreSQL refuses NUL in text: found by the generated forms above (a treasurer's name of '\\x00')."""
    from fundapp.accounts.models import User

    tess = create_user("tess@example.org", "treasurer", name="Tess")
    sign_in(client, "tess@example.org")
    assert client.post("/account", data={"name": "\x00", "language": "en"}).status_code == 400
    assert client.get("/review/?q=a\x00b").status_code == 400
    db.session.refresh(tess)
    assert db.session.get(User, tess.id).name == "Tess"


#: Every query parameter a page reads (request.args, int_arg, date_arg, _text_arg in fundapp/).
QUERY = sorted(set("""
action actor again as_of before category continue flagged format from grants kind lang max min mine month next
object_id object_type page q size status to verify wall window worksite year
""".split()))
QUERIES = st.dictionaries(st.sampled_from(QUERY), VALUES.filter(lambda v: "\x00" not in v), max_size=6)


def get_routes(app, persona: str):
    for rule in app.url_map.iter_rules():
        # /healthz answers 503 by design while no worker beats (tests/test_mail_outbox.py covers it)
        if "GET" not in rule.methods or rule.endpoint in ("static", "accounts.logout", "main.healthz"):
            continue
        access = EXPECTED[rule.endpoint]
        if access == PUBLIC or access == SIGNED_IN or (isinstance(access, set) and persona in access):
            yield rule


@pytest.mark.parametrize("persona", ["anonymous", "treasurer"])
def test_no_page_answers_500_to_any_query_string(app, client, create_user, fund, persona):
    from tests.worlds import someone_elses_world

    someone_elses_world(fund, "fuzz")
    if persona != "anonymous":
        create_user(f"{persona}@example.org", "treasurer", "trustee")
        assert sign_in(client, f"{persona}@example.org").status_code == 302
    with app.test_request_context():
        from flask import url_for

        routes = [(rule.endpoint, url_for(rule.endpoint, **{a: URL_VALUES[a] for a in rule.arguments}))
                  for rule in get_routes(app, persona)]
    assert len(routes) >= {"anonymous": 10, "treasurer": 40}[persona]

    @settings(max_examples=QUERIES_PER_ROUTE, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(query=QUERIES)
    def ask_everywhere(query):
        for endpoint, url in routes:
            response = client.get(url, query_string=query)
            assert response.status_code < 500, (endpoint, query, response.status_code)

    ask_everywhere()
