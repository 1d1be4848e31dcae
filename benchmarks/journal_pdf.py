"""Benchmark: the journal PDF of N entries against its ceiling, the same rows drawn bare on a canvas.

    .venv/bin/python benchmarks/journal_pdf.py [--entries 100000] [--repeats 5]

Fills a scratch SQLite database with N balanced two-posting entries (bulk
inserts; the books stay balanced), then runs, each in its own process under
``/usr/bin/time -v``:

- ``flask fund report journal``: the real command (database stream, layout, PDF);
- the ceiling: the same number of rows, six cells each, drawn straight on a
  ReportLab canvas with no data load and no layout logic.

The two take turns (ours, the ceiling, ours, the ceiling ...), so a noisy spell
on a shared machine falls on both; each figure is the median of the repeats with
their spread (lowest-highest), the time ratio the median of each turn's ratio.
Goals (issue 22): at most 1.3x the ceiling's time, and every run's peak RSS
under 120 MB. Numbers, not a pass/fail test.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
#: Issue 22's goals: our time at most this many times the ceiling's, and every run's peak RSS under this.
TIME_GOAL = 1.3
PEAK_GOAL_MB = 120

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


@dataclass
class Runs:
    """One command's repeats: the wall seconds and peak RSS (KiB) of each."""

    seconds: list[float] = field(default_factory=list)
    peaks_kb: list[int] = field(default_factory=list)


def commands(scratch: Path, postings: int) -> tuple[list[str], list[str]]:
    """Ours (the report command) and the ceiling, which draws a row per posting (the journal draws those plus an
    opening and a closing row per account)."""
    ours = [sys.executable, "-m", "flask", "--app", str(ROOT / "wsgi"), "fund", "report", "journal",
            "-o", str(scratch / "journal.pdf")]
    return ours, [sys.executable, "-c", BASELINE, str(postings), str(scratch / "bare.pdf")]


def interleaved(ours: list[str], ceiling: list[str], env: dict, repeats: int) -> tuple[Runs, Runs]:
    """Each command ``repeats`` times, taking turns: ours, the ceiling, ours, the ceiling ..."""
    mine, bare = Runs(), Runs()
    for _ in range(repeats):
        for runs, command in ((mine, ours), (bare, ceiling)):
            seconds, peak = timed(command, env)
            runs.seconds.append(seconds)
            runs.peaks_kb.append(peak)
    return mine, bare


def spread(values: list[float], digits: int = 1) -> str:
    """The median and, in brackets, the lowest and highest: "31.2 (29.8-35.0)"."""
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def figures(entries: int, mine: Runs, bare: Runs) -> list[tuple[str, str, str, str, str]]:
    """The journal's rows for a table: metric, ours, the ceiling, the ratio, the goal and whether it is met."""
    ratios = [ours / ceiling for ours, ceiling in zip(mine.seconds, bare.seconds, strict=True)]
    mine_mb, bare_mb = [kb / 1024 for kb in mine.peaks_kb], [kb / 1024 for kb in bare.peaks_kb]
    fast = statistics.median(ratios) <= TIME_GOAL
    small = max(mine_mb) < PEAK_GOAL_MB
    return [
        (f"journal PDF, {entries:,} entries (s)", spread(mine.seconds), spread(bare.seconds), spread(ratios, 2),
         f"<= {TIME_GOAL}x: {'met' if fast else 'not met'}"),
        ("journal PDF peak RSS (MB)", spread(mine_mb, 0), spread(bare_mb, 0),
         f"{statistics.median(mine_mb) / statistics.median(bare_mb):.2f}",
         f"< {PEAK_GOAL_MB} MB every run: {'met' if small else 'not met'}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5, help="runs of each, taking turns (default 5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        database = scratch / "bench.db"
        started = time.perf_counter()
        postings = fill(database, args.entries)
        print(f"filled {args.entries:,} entries ({postings:,} postings) in {time.perf_counter() - started:.1f} s")
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "PYTHONPATH": str(ROOT)}
        mine, bare = interleaved(*commands(scratch, postings), env, args.repeats)
        pages = len(__import__("pypdf").PdfReader(scratch / "journal.pdf").pages)
        size = (scratch / "journal.pdf").stat().st_size
    print(f"journal: {pages:,} pages, {size / 1e6:.1f} MB; {args.repeats} runs of each, taking turns; "
          f"median (lowest-highest)")
    rows = [("metric", "ours", "ceiling", "ratio", "goal"), *figures(args.entries, mine, bare)]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for line in rows:
        print("  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(line)))


if __name__ == "__main__":
    main()
