"""SECURITY.md's figures are the tests' own: each row of its table is compared with the constant the test it
names runs with or asserts (tests/security_figures.py) or with the app's own setting, so the page cannot claim
more (or other) than make test runs."""
from __future__ import annotations

import re
from pathlib import Path

from fundapp import throttle
from fundapp.accounts import two_factor
from fundapp.config import ENV_SETTINGS
from tests import security_figures as figures
from tests.access_table import PERSONAS

ROOT = Path(__file__).resolve().parent.parent


def rows() -> dict[str, tuple[str, str]]:
    text = (ROOT / "SECURITY.md").read_text()
    table = text.split("| figure | value | proven by |", 1)[1].split("\n\n", 1)[0]
    found = {}
    for line in table.strip().splitlines()[1:]:
        figure, value, source = [cell.strip() for cell in line.strip().strip("|").split("|")]
        found[figure] = (value, source.strip("`"))
    return found


def test_every_figure_in_security_md_is_the_tests_own(app):
    id_routes = sum(1 for rule in app.url_map.iter_rules() if set(rule.arguments) & figures.ID_ARGUMENTS)
    expected = {
        "payments in the fault run": figures.PAYMENTS,
        "Stripe deliveries in the fault run (replays and the same money under another event included, shuffled)":
            figures.DELIVERIES,
        "web workers killed with a request half-read": figures.WEB_WORKERS_KILLED,
        "event workers killed while applying events (on PostgreSQL, inside a booking held open by a trigger)":
            figures.EVENT_WORKERS_KILLED,
        "gifts lost, doubled, or cents off after the fault run (books compared entry by entry with a clean run)":
            figures.GIFTS_LOST,
        "database faults injected mid-booking (a trigger refusing the write)":
            figures.DATABASE_FAULTS_INJECTED,
        "routes with an object id asked for someone else's object": id_routes,
        "personas in the route-by-role matrix (every route)": len(PERSONAS),
        "generated hostile forms sent to every POST route, per persona": figures.FORMS_PER_ROUTE,
        "random webhook bodies and signatures refused, nothing stored": figures.WEBHOOK_BODIES,
        "generated hostile query strings sent to every page, per persona (a visitor and the treasurer)":
            figures.QUERIES_PER_ROUTE,
        "sign-in tries (right or wrong, counted before the password is checked) that pause an account for 15 "
        "minutes": int(re.match(r"(\d+) per 15 minutes", throttle.SIGN_INS_PER_ACCOUNT).group(1)),
        "codes typed while waiting for the second factor before a pause":
            int(re.match(r"(\d+) per 15 minutes", throttle.CODES_PER_ACCOUNT).group(1)),
        "wrong fresh codes (payments, new recovery codes) that pause a person":
            int(re.match(r"(\d+) per 15 minutes", throttle.FAILED_CODES_PER_PERSON).group(1)),
        "POSTs one address may send to sign-in in 10 minutes":
            int(re.match(r"(\d+) per 10 minutes", throttle.PER_ADDRESS).group(1)),
        "recovery codes per person": two_factor.RECOVERY_CODES,
        "membership proofs one account may try in an hour (guessing 50 member numbers gets 429 at the 6th)":
            int(re.match(r"(\d+) per hour", throttle.MEMBERSHIP_TRIES_PER_PERSON).group(1)),
        "wrong proofs of one member number, from any accounts and addresses, before it pauses for an hour":
            int(re.match(r"(\d+) per hour", throttle.MEMBERSHIP_MISSES_PER_NUMBER).group(1)),
        "members linked by a stranger guessing 50 sequential member numbers with common surnames":
            figures.MEMBERS_LINKED_BY_GUESSING if figures.MEMBER_NUMBERS_GUESSED == 50 else None,
        "differences between the answers to a known and an unknown address (registration, reset, donor link: page "
        "bytes and the SQL run)":
            figures.ENUMERATION_DIFFERENCES,
        "documents one member may keep over all their applications, withdrawn ones included":
            int(ENV_SETTINGS["DOCUMENTS_MAX_PER_MEMBER"])
            if int(ENV_SETTINGS["DOCUMENTS_MAX_PER_MEMBER"]) == figures.DOCUMENTS_PER_MEMBER else None,
        "account-level audit records (no fund) shown on a fund's trail":
            figures.ACCOUNT_RECORDS_ON_A_FUNDS_TRAIL,
        "bandit findings left unexplained in `fundapp/` and `reports/`": figures.BANDIT_FINDINGS_UNEXPLAINED,
        "findings of our own semgrep rules (stripe only in `payments/`, no SQL from strings, no `Markup` of data)": figures.SEMGREP_FINDINGS,
        "ways a session ends that a copied session cookie is then replayed against and refused (sign-out, sign out "
        "everywhere, a new password, a trustee role taken away, one given, a remember-me cookie after sign-out, a "
        "donor's sign-out)":
            len(figures.REPLAYS),
        "minutes a trustee's or treasurer's session may stay unused before it ends (`STAFF_IDLE_MINUTES`)":
            int(ENV_SETTINGS["STAFF_IDLE_MINUTES"]),
        "milliseconds `/healthz` may take while the mail server accepts connections and never answers":
            figures.HEALTHZ_LIMIT_MS,
        "milliseconds a page that queues mail may take while the mail server hangs (the worker waits up to "
        "`MAIL_TIMEOUT`)": figures.QUEUEING_PAGE_LIMIT_MS,
        "sign-in links (reset, welcome, donor page) left in mail written to the log":
            figures.SIGN_IN_LINKS_LOGGED,
        "rounds of each race on a grant's money on PostgreSQL (2 and 4 full payments, two batches, a batch against a "
        "payment, 2 and 3 trustees approving, a double-click on Approve), each in separate connections released by "
        "a barrier": figures.ROUNDS,
    }
    documented = rows()
    assert set(documented) == set(expected)
    for figure, (value, source) in documented.items():
        assert (ROOT / source).exists(), f"{source} does not exist"
        assert int(value) == expected[figure], f"SECURITY.md says {value} for {figure!r}; the tests say {expected[figure]}"
