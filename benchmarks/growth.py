"""How cost grows with data: the same figures at three sizes of a strike (issue 9).

    .venv/bin/python benchmarks/growth.py [--sizes 100000,300000,1000000] [--pg postgresql://...]

For each size it makes its own PostgreSQL database, fills it with seed-scale
(gifts, and one grant for every ten gifts), then measures in this process through
the app's test client (server time only): the dashboard, the public figures
computed afresh, the monthly report PDF, the first page of the gifts list and of
the audit trail, the whole donations CSV streamed, and booking 200 more settled
gifts through the service. The local Stripe server runs in its own process (the
gifts list asks Stripe for its balance). Prints one table (a figure per size, and how the largest
compares with the smallest) so the README can say which costs stay flat and which
grow with the data. Not part of make bench (it takes about 5 minutes).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench import local_stripe_process, make_app, median_seconds, pg_database, seed_fund_at_scale, signed_in_client  # noqa: E402


def measure(app, donations: int) -> dict[str, float]:
    from fundapp.donations import booking
    from fundapp.extensions import db, utcnow
    from fundapp.funds.services import current_fund
    from fundapp.payments.facts import PaymentSettled
    from fundapp.reporting import figures

    user_id, seeded = seed_fund_at_scale(app, donations, donations // 10)
    figures_at: dict[str, float] = {"seed-scale (s)": seeded}
    client = signed_in_client(app, user_id)

    def page(path):
        def get():
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            return b"".join(response.response) if response.is_streamed else response.data
        return get

    with app.app_context():
        from fundapp.funds import clock

        month = clock.month(current_fund())
    figures_at["dashboard (ms)"] = median_seconds(page("/review/dashboard"), 5) * 1000
    figures_at["monthly report PDF (s)"] = median_seconds(page(f"/reports/monthly.pdf?month={month}"), 1)
    figures_at["gifts list, first page (ms)"] = median_seconds(page("/admin/donations/"), 5) * 1000
    figures_at["audit trail, first page (ms)"] = median_seconds(page("/audit/"), 5) * 1000
    figures_at["donations CSV, all rows (s)"] = median_seconds(page("/reports/donations.csv"), 1)
    with app.app_context():
        fund = current_fund()
        figures_at["public figures, uncached (ms)"] = median_seconds(
            lambda: figures.public_figures(fund, clock.today(fund)), 3) * 1000
        count = 200
        started = time.perf_counter()
        for n in range(count):
            booking.record_settled_payment(fund, PaymentSettled(
                charge_id=f"ch_growth_{n}", payment_intent_id=None, invoice_id=None, subscription_id=None,
                customer_id=None, gross_cents=2_500, fee_cents=103, net_cents=2_397, currency=fund.currency,
                at=utcnow(), email=f"g{n % 20}@example.org", name=f"Giver {n % 20}"), notify=False)
            db.session.commit()
        figures_at["booking a settled gift (gifts/s)"] = count / (time.perf_counter() - started)
        db.session.remove()
        db.engine.dispose()
    return figures_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    with tempfile.TemporaryDirectory() as scratch, local_stripe_process() as stripe_base:
        for size in sizes:
            with pg_database(args.pg) as url:
                app = make_app(url, Path(scratch))
                app.config.update(STRIPE_API_BASE=stripe_base, STRIPE_SECRET_KEY="sk_test_growth")  # the gifts
                # list asks Stripe for its balance: a local one, so the network is not what is measured
                print(f"-- {size:,} gifts, {size // 10:,} grants", flush=True)
                results.append(measure(app, size))
                print("   " + ", ".join(f"{k}: {v:,.2f}" for k, v in results[-1].items()), flush=True)
    names = list(results[0])
    header = ["metric", *(f"{s:,} gifts" for s in sizes), f"x{sizes[-1] // sizes[0]} data"]
    rows = [[name, *(f"{r[name]:,.2f}" for r in results), f"x{results[-1][name] / results[0][name]:.1f}"]
            for name in names]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    print()
    for row in [header, *rows]:
        print("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)))


if __name__ == "__main__":
    main()
