"""Benchmark: the journal PDF of N entries against its ceiling, the same rows drawn bare on a canvas.

    .venv/bin/python benchmarks/journal_pdf.py [--entries 100000]

Fills a scratch SQLite database with N balanced two-posting entries (bulk
inserts; the books stay balanced), then runs, each in its own process under
``/usr/bin/time -v``:

- ``flask fund report journal``: the real command (database stream, layout, PDF);
- the ceiling: the same number of rows, six cells each, drawn straight on a
  ReportLab canvas with no data load and no layout logic.

Prints wall time and peak RSS for both and the time ratio (goal <= 1.5x,
peak RSS < 150 MB; see issue 9). Numbers, not a pass/fail test.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BASELINE = r"""
import sys
from reportlab.lib.pagesizes import LETTER
from reportlab.pdfgen.canvas import Canvas
rows, out = int(sys.argv[1]), sys.argv[2]
c = Canvas(out, pagesize=LETTER, pageCompression=1, invariant=1)
y = 730
for n in range(rows):
    if y < 60:
        c.showPage(); y = 730
    c.setFont("Helvetica", 8)
    c.drawString(54, y, "2026-03-01"); c.drawString(106, y, str(n)); c.drawString(150, y, f"Gift {n} from a supporter")
    c.drawRightString(408, y, "1,234.56"); c.drawRightString(483, y, ""); c.drawRightString(558, y, f"{n:,}.00")
    y -= 11
c.save()
"""


def fill(database: Path, entries: int) -> int:
    """N entries of two postings each, inserted in bulk; returns the number of postings."""
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    from flask_migrate import upgrade

    from fundapp import create_app, init_migrations
    from fundapp.extensions import db
    from fundapp.funds.services import current_fund
    from fundapp.ledger import services as ledger
    from fundapp.ledger.models import JournalEntry, Posting

    app = create_app()
    init_migrations(app)
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        from fundapp.setup import init_fund

        init_fund(app.config["FUND_DEFAULTS"])  # as `fund init` after the migrations
        fund = current_fund()
        accounts = ledger.chart(fund)
        db.session.commit()
        bank, gifts, grants = (accounts[n].id for n in ("Assets:Bank", "Income:Donations", "Expenses:HardshipGrants"))
        start = date(2025, 1, 1)
        batch = 10_000
        for first in range(1, entries + 1, batch):
            ids = range(first, min(first + batch, entries + 1))
            db.session.execute(db.insert(JournalEntry), [
                {"id": n, "fund_id": fund.id, "entry_date": start + timedelta(days=n * 700 // entries),
                 "memo": f"Gift {n} from a supporter" if n % 5 else f"Hardship grant {n} paid by cheque",
                 "source_kind": "bench", "source_id": str(n)} for n in ids])
            rows = []
            for n in ids:
                cents = 500 + (n * 7_919) % 50_000
                if n % 5:
                    rows += [{"entry_id": n, "account_id": bank, "amount_cents": cents},
                             {"entry_id": n, "account_id": gifts, "amount_cents": -cents}]
                else:
                    rows += [{"entry_id": n, "account_id": grants, "amount_cents": cents // 4},
                             {"entry_id": n, "account_id": bank, "amount_cents": -(cents // 4)}]
            db.session.execute(db.insert(Posting), rows)
            db.session.commit()
        ledger.rebuild_day_totals(fund)  # the bulk rows went around post_entry, which keeps them
        db.session.commit()
        return db.session.scalar(db.select(db.func.count(Posting.id)))


def timed(command: list[str], env: dict) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of ``command``, from /usr/bin/time -v."""
    started = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-v", *command], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{command[:3]} failed:\n{result.stdout}\n{result.stderr}")
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    return elapsed, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        database = scratch / "bench.db"
        started = time.perf_counter()
        postings = fill(database, args.entries)
        print(f"filled {args.entries:,} entries ({postings:,} postings) in {time.perf_counter() - started:.1f} s")
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "PYTHONPATH": str(ROOT)}
        ours_s, ours_kb = timed([sys.executable, "-m", "flask", "--app", str(ROOT / "wsgi"), "fund", "report",
                                 "journal", "-o", str(scratch / "journal.pdf")], env)
        # The journal draws a row per posting plus an opening and a closing row per account.
        base_s, base_kb = timed([sys.executable, "-c", BASELINE, str(postings), str(scratch / "bare.pdf")], env)
        pages = len(__import__("pypdf").PdfReader(scratch / "journal.pdf").pages)
        size = (scratch / "journal.pdf").stat().st_size
        print(f"journal: {pages:,} pages, {size / 1e6:.1f} MB")
        print(f"{'metric':<34}{'ours':>10}{'ceiling':>10}{'ratio':>8}  goal")
        print(f"{'journal PDF wall time (s)':<34}{ours_s:>10.2f}{base_s:>10.2f}{ours_s / base_s:>8.2f}  <= 1.5x")
        print(f"{'journal PDF peak RSS (MB)':<34}{ours_kb / 1024:>10.1f}{base_kb / 1024:>10.1f}"
              f"{ours_kb / base_kb:>8.2f}  < 150 MB")


if __name__ == "__main__":
    main()
