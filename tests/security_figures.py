"""The figures SECURITY.md quotes, each defined once: the test that proves a figure runs with (or asserts) the constant
here, and tests/test_security_doc.py compares SECURITY.md's table with these values and the app's own settings. A
change to a test's size or bound is therefore a change here, and the page fails until it says the same.

Each constant names the test that uses it. The figures that are a count of failures ("0 gifts lost") are asserted
as such by the test named beside them: that test fails on any other outcome, so the figure is the test's result.
"""
from __future__ import annotations

# --- tests/test_faults.py: a crash-and-replay run against gunicorn workers and the event worker ------------------------
PAYMENTS = 24
REPLAY_EVERY = 2  # every second event is delivered twice
SAME_MONEY_EVERY = 3  # every third payment also arrives as charge.succeeded
DELIVERIES = PAYMENTS + len(range(0, PAYMENTS, REPLAY_EVERY)) + len(range(0, PAYMENTS, SAME_MONEY_EVERY))
#: Web workers killed with a request half-read (asserted: kills == WEB_WORKERS_KILLED).
WEB_WORKERS_KILLED = 2
#: Event workers killed inside a booking (the run kills this many of the newest workers).
EVENT_WORKERS_KILLED = 1
#: Gifts lost, doubled or cents off: the run asserts its books equal a clean run's, entry by entry.
GIFTS_LOST = 0

# --- tests/donations/test_events.py ---------------------------------------------------------------------------------
#: A trigger refusing the booking's write once ("injected fault"), and the event retried.
DATABASE_FAULTS_INJECTED = 1

# --- tests/test_object_access.py -------------------------------------------------------------------------------------
#: The URL arguments that name an object: every route taking one is asked for someone else's object.
ID_ARGUMENTS = {"application_id", "document_id", "donation_id", "gift_id", "payment_id", "user_id", "claim_id",
                "transfer_id"}

# --- tests/test_fuzz.py ----------------------------------------------------------------------------------------------
FORMS_PER_ROUTE = 10  # generated forms sent to every POST route, per persona
WEBHOOK_BODIES = 150
QUERIES_PER_ROUTE = 4

# --- tests/accounts/test_membership_guessing.py ----------------------------------------------------------------------
#: Member numbers a stranger guesses in a row (with common surnames).
MEMBER_NUMBERS_GUESSED = 50
#: Members linked by that guessing (asserted: linked() == MEMBERS_LINKED_BY_GUESSING).
MEMBERS_LINKED_BY_GUESSING = 0

# --- tests/accounts/test_enumeration.py ------------------------------------------------------------------------------
#: Differences between the answers to a known and an unknown address: the tests assert equal pages and SQL.
ENUMERATION_DIFFERENCES = 0

# --- tests/applications/test_document_quota.py -----------------------------------------------------------------------
DOCUMENTS_PER_MEMBER = 20

# --- tests/audit/test_audit.py ---------------------------------------------------------------------------------------
#: Account-level audit records (no fund) shown on a fund's trail (test_account_level_records_are_on_no_funds_trail).
ACCOUNT_RECORDS_ON_A_FUNDS_TRAIL = 0

# --- tests/accounts/test_sessions.py ---------------------------------------------------------------------------------
#: The ways a session ends that a replayed cookie is tried against, one test each.
REPLAYS = ("sign-out", "sign out everywhere", "a new password", "a trustee role taken away",
           "a trustee role given", "sign-out (remember-me cookie)", "a donor's sign-out")

# --- tests/test_mail_outbox.py ---------------------------------------------------------------------------------------
#: What /healthz may take, whatever the mail server does (milliseconds).
HEALTHZ_LIMIT_MS = 100
#: What a page that queues mail may take while the mail server hangs (milliseconds); the worker's
#: MAIL_TIMEOUT in the test is 3 s, so a page that sent the mail itself would take at least that.
QUEUEING_PAGE_LIMIT_MS = 1000
#: Sign-in links left in mail written to the log (asserted: neither the link nor its token is logged).
SIGN_IN_LINKS_LOGGED = 0

# --- tests/review/test_races.py --------------------------------------------------------------------------------------
ROUNDS = 50

# --- bandit and semgrep (make test's security scans) -----------------------------------------------------------------
BANDIT_FINDINGS_UNEXPLAINED = 0
SEMGREP_FINDINGS = 0
