"""Does the time of an answer tell who has an account? (issue 18, item 6)

    .venv/bin/python benchmarks/enumeration.py [--rounds 40]

For registration (an address with an account against a new one), a password reset and a donor's sign-in link
(a known address against an unknown one), it sends the requests in turn (known, unknown, known, ...) through
the app in this process, on a scratch SQLite database, with a real SMTP server on 127.0.0.1 for the mail the
registration page sends, and prints the median time of each, the spread (interquartile range) and the
difference of the medians. The tests (tests/accounts/test_enumeration.py) pin the cause instead: both ways run
the same SQL. Rate limits are off here (they would stop the run, not change a single answer's time).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import make_app  # noqa: E402


def timed(call) -> float:
    started = time.perf_counter()
    response = call()
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code in (200, 302), response.status_code
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()

    from aiosmtpd.controller import Controller

    class Discard:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(Discard(), hostname="127.0.0.1", port=port)
    smtp.start()
    scratch = Path(tempfile.mkdtemp(prefix="fundapp-enum-"))
    url = "sqlite:///" + str(scratch / "enum.sqlite3")
    os.environ["FUND_CONTACT_EMAIL"] = "fund@example.org"
    app = make_app(url, scratch)
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, SERVER_NAME="bench.test")
    from fundapp import throttle
    from fundapp.accounts import services as accounts
    from fundapp.donations import offline
    from fundapp.extensions import db
    from fundapp.funds.services import current_fund

    throttle.limiter_of(app).enabled = False
    with app.app_context():
        fund = current_fund()
        accounts.create_user(fund, email="ana@example.org", name="Ana", password="a long bench passphrase",
                             roles=["applicant"])
        from fundapp.funds import clock

        offline.record_offline_gift(fund, name="Dana", email="dana@example.org", amount_cents=2_000,
                                      method="cash", received_on=clock.today(fund), notify=False)
        db.session.commit()

    client = app.test_client()
    password = "a long bench passphrase 2"
    cases = {
        "registration": (lambda n: client.post("/register", data={"name": "Rosa", "email": "ana@example.org",
                                                                  "password": password, "confirm": password}),
                         lambda n: client.post("/register", data={"name": "Rosa", "email": f"new{n}@example.org",
                                                                  "password": password, "confirm": password})),
        "password reset": (lambda n: client.post("/reset", data={"email": "ana@example.org"}),
                           lambda n: client.post("/reset", data={"email": f"nobody{n}@example.org"})),
        "donor sign-in link": (lambda n: client.post("/donor/login", data={"email": "dana@example.org"}),
                               lambda n: client.post("/donor/login", data={"email": f"nobody{n}@example.org"})),
    }
    print(f"{'request':<20} {'known ms':>9} {'unknown ms':>11} {'IQR known':>10} {'IQR unknown':>12} {'diff ms':>8}")
    for name, (known, unknown) in cases.items():
        for n in range(3):  # warm up
            known(-n), unknown(-n - 10)
        times = {"known": [], "unknown": []}
        for n in range(args.rounds):
            times["known"].append(timed(lambda known=known, n=n: known(n)))
            times["unknown"].append(timed(lambda unknown=unknown, n=n: unknown(n)))

        def iqr(values):
            q = statistics.quantiles(values, n=4)
            return q[2] - q[0]

        a, b = statistics.median(times["known"]), statistics.median(times["unknown"])
        print(f"{name:<20} {a:>9.2f} {b:>11.2f} {iqr(times['known']):>10.2f} {iqr(times['unknown']):>12.2f} "
              f"{a - b:>+8.2f}")
    smtp.stop()


if __name__ == "__main__":
    main()
