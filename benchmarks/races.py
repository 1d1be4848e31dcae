"""Races on a grant's money through the real stack (issue 15): gunicorn with 4 sync workers on PostgreSQL.

    .venv/bin/python benchmarks/races.py [--rounds 100] [--pg postgresql://postgres@127.0.0.1:5432/test]

Each round, two trustees' browsers (real sessions, CSRF tokens read from the case page) send at the same
moment (a barrier): the full payment of one approved grant, then their approvals of a $800 case that
needs two and is already in review. Afterwards it counts, from the database: grants paid twice, cases
left with two approvals but undecided, and the answers that were 500s; then runs check-books and
verify-audit and exports the books for bean-check. It also times the row lock a payment now takes.
Makes its own database (dropped at the end); traffic goes to 127.0.0.1 only.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import ROOT, gunicorn, make_app, pg_database  # noqa: E402

SECRET = "bench-races-secret-key"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def trustee_browser(app, base: str, session_id: str) -> requests.Session:
    """A browser holding a trustee's signed-in session (signing in is not what is raced)."""
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"], session["second_factor"] = session_id, True, True
    browser = requests.Session()
    browser.cookies.set("session", client.get_cookie("session").value, domain="127.0.0.1")
    return browser


def at_once(calls) -> list[tuple[int, float]]:
    """Run each call in its own thread, released together; (status, seconds) of each."""
    barrier, answers = threading.Barrier(len(calls)), [None] * len(calls)

    def run(n, call):
        prepared = call()
        barrier.wait(30)
        started = time.perf_counter()
        answers[n] = (prepared().status_code, time.perf_counter() - started)

    threads = [threading.Thread(target=run, args=(n, call)) for n, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers


def post_form(browser: requests.Session, base: str, page: str, action: str, form: dict):
    """Read the page (and its CSRF token) now; return the POST to send at the barrier."""
    def prepare():
        token = TOKEN.search(browser.get(base + page, timeout=30).text).group(1)
        return lambda: browser.post(base + action, data={**form, "csrf_token": token}, allow_redirects=False,
                                    timeout=30)
    return prepare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--pg", default=os.environ.get("PG_TEST_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    os.environ.update(SECRET_KEY=SECRET, STEP_UP_ABOVE="1000000.00", FUNDAPP_ENV="development")
    with tempfile.TemporaryDirectory() as scratch, pg_database(args.pg) as url:
        scratch = Path(scratch)
        app = make_app(url, scratch)
        app.config["SERVER_NAME"] = None
        from fundapp.accounts import services as accounts
        from fundapp.accounts import sessions as account_sessions
        from fundapp.accounts import two_factor
        from fundapp.accounts.models import Member
        from fundapp.applications.models import Application
        from fundapp.applications.services import current_rules
        from fundapp.extensions import db
        from fundapp.ledger import exports
        from fundapp.ledger import services as ledger
        from fundapp.review import services as review
        from fundapp.review.models import Approval, GrantPayment
        from fundapp.setup import init_fund

        with app.app_context():
            fund = init_fund(app.config["FUND_DEFAULTS"]).fund
            trustees = [accounts.create_user(fund, email=f"t{n}@example.org", name=f"Trustee {n}",
                                             password="correct horse battery", roles=("trustee",)) for n in (1, 2)]
            for trustee in trustees:
                import pyotp

                secret = two_factor.new_secret()
                two_factor.confirm_enrolment(trustee, secret, pyotp.TOTP(secret).now())
            ledger.post_entry(fund, entry_date=ledger_day(), memo="gifts", source_kind="t", source_id="gifts",
                              postings=[("Assets:Bank", 100_000_000), ("Income:Donations", -100_000_000)])
            db.session.commit()
            trustee_ids = [t.id for t in trustees]
            session_ids = [account_sessions.start_session(t) for t in trustees]  # server-side sessions, as sign-in opens
            db.session.commit()

            def new_case(n: int, cents: int, status: str) -> int:
                fund = fund_of(db)
                user = accounts.create_user(fund, email=f"s{n}@example.org", name=f"Striker {n}",
                                            password="correct horse battery", roles=("applicant",))
                member = Member(fund_id=fund.id, member_id=f"R-{n}", first_name="S", last_name=str(n),
                                worksite="North", unit="U", on_strike=True, user_id=user.id)
                db.session.add(member)
                db.session.flush()
                application = Application(fund_id=fund.id, applicant_id=user.id, member_id=member.id,
                                          rules_id=current_rules(fund).id, status=status, category="rent",
                                          amount_requested_cents=cents, amount_paid_cents=0, payee_kind="member")
                db.session.add(application)
                db.session.commit()
                return application.id

        env = {**os.environ, "DATABASE_URL": url, "DOCUMENTS_DIR": str(scratch / "documents")}
        statuses: Counter = Counter()
        pay_times: list[float] = []
        with gunicorn(ROOT, "wsgi:app", env, scratch / "gunicorn.log", workers=4) as base:
            browsers = [trustee_browser(app, base, session_id) for session_id in session_ids]
            for n in range(args.rounds):
                with app.app_context():
                    grant = new_case(2 * n, 30_000, "submitted")
                    review.approve(fund_of(db), db.session.get(Application, grant), 30_000,
                                   actor=db.session.get(accounts.User, trustee_ids[0]))
                    db.session.commit()
                    case = new_case(2 * n + 1, 80_000, "in_review")
                form = {"amount": "300", "method": "cheque", "reference": str(n), "paid_on": ledger_day().isoformat()}
                for status, seconds in at_once([post_form(b, base, f"/review/{grant}", f"/review/{grant}/pay", form)
                                                for b in browsers]):
                    statuses[f"pay {status}"] += 1
                    pay_times.append(seconds)
                for status, _seconds in at_once([post_form(b, base, f"/review/{case}", f"/review/{case}/approve",
                                                           {"amount": "800"}) for b in browsers]):
                    statuses[f"approve {status}"] += 1

        with app.app_context():
            paid_twice = db.session.scalar(db.select(db.func.count()).select_from(
                db.select(GrantPayment.application_id).group_by(GrantPayment.application_id)
                .having(db.func.count() > 1).subquery()))
            approvals = db.select(Approval.application_id).group_by(Approval.application_id) \
                .having(db.func.count() >= 2).subquery()
            stuck = db.session.scalar(db.select(db.func.count()).select_from(Application).join(
                approvals, approvals.c.application_id == Application.id).where(Application.status == "in_review"))
            paid = db.session.scalar(db.select(db.func.count()).select_from(Application).where(
                Application.amount_requested_cents == 30_000, Application.status == "paid"))
            approved = db.session.scalar(db.select(db.func.count()).select_from(Application).where(
                Application.amount_requested_cents == 80_000, Application.status == "approved"))
            # What the row lock adds to a payment: one SELECT ... FOR UPDATE, timed alone.
            some = db.session.scalars(db.select(Application).limit(1)).one()
            lock_times = []
            for _ in range(200):
                started = time.perf_counter()
                review.lock_case(some)
                lock_times.append(time.perf_counter() - started)
                db.session.rollback()
            runner = app.test_cli_runner()
            books = runner.invoke(args=["fund", "check-books"])
            audit = runner.invoke(args=["fund", "verify-audit"])
            with open(scratch / "books.beancount", "w") as out:
                exports.write_beancount(fund_of(db), out)
            bean = subprocess.run([str(Path(sys.executable).parent / "bean-check"), str(scratch / "books.beancount")],
                                  capture_output=True, text=True)
            db.session.remove()
            db.engine.dispose()

    print(f"== races under gunicorn -w 4 on PostgreSQL: {args.rounds} rounds ==")
    print(f"answers: {dict(sorted(statuses.items()))}")
    print(f"grants paid twice: {paid_twice} of {args.rounds} (grants paid in full: {paid})")
    print(f"cases with two approvals left undecided: {stuck} of {args.rounds} ($800 cases approved: {approved})")
    print(f"payment POST under the race: median {statistics.median(pay_times) * 1000:.1f} ms, "
          f"max {max(pay_times) * 1000:.1f} ms")
    print(f"the row lock alone (SELECT ... FOR UPDATE): median {statistics.median(lock_times) * 1000:.2f} ms")
    print(f"check-books: exit {books.exit_code}; verify-audit: exit {audit.exit_code}; bean-check: exit {bean.returncode}")
    failed = paid_twice or stuck or paid != args.rounds or approved != args.rounds or any(key.endswith(" 500") for key in statuses) or books.exit_code \
        or audit.exit_code or bean.returncode
    sys.exit(1 if failed else 0)


def ledger_day():
    from fundapp.extensions import utcnow

    return utcnow().date()


def fund_of(db):
    from fundapp.funds.models import Fund

    return db.session.scalars(db.select(Fund)).one()


if __name__ == "__main__":
    main()
