"""Benchmark: the dashboard, the public page and the reports against a database filled by seed-scale.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/scale \\
        .venv/bin/python benchmarks/reports_at_scale.py [--runs 5]

The database must already hold the scale data (``benchmarks/scale.py``, which needs
a trustee: ``flask --app wsgi fund create-user``). Each figure is the median of
``--runs`` timed runs after one warm-up, measured in this process through the app's
own test client (so server time only, no network): the dashboard page, one
dashboard chart, the public page, the monthly report PDF, the members' report PDF,
and the donations CSV streamed to the end. Prints a table; not a pass/fail test.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(call, runs: int) -> tuple[float, int]:
    call()  # warm-up: the first run also fills caches that later runs find
    seconds, size = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        size = call()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from fundapp.accounts.models import Role, RoleGrant, User
    from fundapp.applications.models import Application
    from fundapp.donations.models import Donation
    from fundapp.extensions import db
    from wsgi import app

    app.config["WTF_CSRF_ENABLED"] = False
    with app.app_context():
        donations = db.session.scalar(db.select(db.func.count(Donation.id)))
        grants = db.session.scalar(db.select(db.func.count(Application.id)))
        treasurer = db.session.scalar(db.select(User).join(RoleGrant, RoleGrant.user_id == User.id)
                                      .where(RoleGrant.role.in_([Role.TREASURER.value, Role.TRUSTEE.value])))
        if not treasurer:
            sys.exit("no trustee or treasurer in this database: run seed-scale first")
        if not db.session.scalar(db.select(RoleGrant).filter_by(user_id=treasurer.id, role=Role.TREASURER.value)):
            db.session.add(RoleGrant(user_id=treasurer.id, fund_id=1, role=Role.TREASURER.value))
            db.session.commit()
        from fundapp.accounts import sessions as account_sessions

        session_id = account_sessions.start_session(treasurer)  # a server-side session, as signing in opens
        db.session.commit()
        month = time.strftime("%Y-%m")

    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = session_id
        session["_fresh"] = True
        session["second_factor"] = True  # a signed-in trustee's session (sign-in itself is not measured)

    def get(url: str):
        def call() -> int:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            return len(response.get_data())
        return call

    rows = [
        ("dashboard page", get("/review/dashboard")),
        ("dashboard chart (weekly)", get("/review/dashboard/weekly.svg")),
        ("public page", get("/transparency")),
        ("monthly report PDF", get(f"/reports/monthly.pdf?month={month}")),
        ("members' report PDF", get("/reports/members.pdf")),
        ("donations CSV (streamed)", get("/reports/donations.csv")),
    ]
    print(f"{donations:,} donations, {grants:,} grants; median of {args.runs} runs after a warm-up")
    print(f"{'what':28} {'seconds':>9} {'bytes':>12}")
    for name, call in rows:
        runs = 1 if "CSV" in name else args.runs
        seconds, size = timed(call, runs)
        print(f"{name:28} {seconds:9.3f} {size:12,}")


if __name__ == "__main__":
    main()
