"""The benchmark runs: ``make bench`` at a tiny size (its numbers mean nothing here; timings are never
asserted in tests). On the PostgreSQL run only, since the benchmark measures PostgreSQL."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = os.environ.get("FUNDAPP_TEST_DATABASE_URL")


@pytest.mark.skipif(not PG_SERVER, reason="the benchmark measures PostgreSQL: run in the PostgreSQL pass")
def test_the_benchmark_runs_every_part_and_prints_its_table():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--smoke", "--pg", PG_SERVER],
                            capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    table = result.stdout[result.stdout.index("metric "):]
    for metric in ("booking a settled gift", "receipt PDF", "year-end statements", "donate page", "review queue",
                   "Stripe webhook", "webhook p99", "journal PDF", "journal PDF peak RSS", "dashboard server time",
                   "monthly report PDF"):
        assert metric in table
    # The pages take turns with their ceilings (the bare stack serving the same page): each figure a median with its
    # spread, the goal said met or not, the CPU time in-process beside it, and the round trips of three pages.
    for page in ("donate page", "review queue, 50 rows"):
        assert re.search(rf"{page} \(req/s[^\n]*\(\d+-\d+\)[^\n]*>= 0\.8: (met|not met)", table), table
        assert re.search(rf"{page}, CPU per request in-process \(ms\)\s+[\d.]+ \([\d.]+-[\d.]+\)", table), table
    for path in ("/donate", "/", "/review/"):
        assert re.search(rf"round trips per request, {re.escape(path)} \(statements\)\s+[\d.]+ \([\d.]+\)", table), table
    # The burst takes turns with the same rows written bare; its figures are medians with their spread, the goal
    # said met or not, and the round trips per booked gift are counted. A turn whose books are wrong stops the run.
    assert re.search(r"booking a burst of [\d,]+ settled gifts, facts in hand[^\n]*\(\d+-\d+\)[^\n]*"
                     r"same rows bare, 50 per transaction[^\n]*(met|not met)", table), table
    for metric in ("the same rows bare, one gift per transaction", "fetching from the local Stripe server",
                   "receipts rendered and mail sent"):
        assert metric in table
    assert re.search(r"round trips per booked gift, a batch of 50 \(statements\)\s+[\d.]+", table), table
    # The webhook part counts the books after its run: nothing lost, nothing doubled, not a cent off.
    assert re.search(r"after it: gifts lost / doubled, cents off\s+0 / 0, 0\s", table), table
    assert "ceiling" in table and "ratio" in table and "goal" in table
