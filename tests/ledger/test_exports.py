"""Ledger exports, checked by tools we did not write: bean-check and Python's csv reader."""
from __future__ import annotations

import csv
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from fundapp.ledger import services as ledger

BEAN_CHECK = str(Path(sys.executable).parent / "bean-check")




def test_beancount_export_passes_bean_check_and_a_broken_amount_fails_it(runner, books, tmp_path):
    path = tmp_path / "books.beancount"
    result = runner.invoke(args=["fund", "export-ledger", "--format", "beancount", "-o", str(path)])
    assert result.exit_code == 0, result.output
    check = subprocess.run([BEAN_CHECK, str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    text = path.read_text()
    assert text.count(" open ") == 8
    assert 'source: "stripe.charge:ch_0"' in text and 'reversal_of: "' in text
    # break one amount by a cent: bean-check must notice
    broken = re.sub(r"(Assets:Stripe\s+)(\d+)\.(\d\d)", lambda m: f"{m.group(1)}{m.group(2)}.{(int(m.group(3)) + 1) % 100:02d}",
                    text, count=1)
    assert broken != text
    path.write_text(broken)
    check = subprocess.run([BEAN_CHECK, str(path)], capture_output=True, text=True)
    assert check.returncode != 0
    assert "does not balance" in (check.stdout + check.stderr)


def test_csv_export_totals_equal_the_trial_balance(runner, books, tmp_path):
    path = tmp_path / "books.csv"
    result = runner.invoke(args=["fund", "export-ledger", "--format", "csv", "-o", str(path)])
    assert result.exit_code == 0, result.output
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM, so Excel reads UTF-8
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert list(rows[0]) == ["entry_id", "date", "account", "debit", "credit", "memo", "source"]
    debits = sum(Decimal(r["debit"] or 0) for r in rows)
    credits = sum(Decimal(r["credit"] or 0) for r in rows)
    assert debits == credits
    per_account: dict[str, Decimal] = {}
    for r in rows:
        per_account[r["account"]] = per_account.get(r["account"], 0) + Decimal(r["debit"] or 0) - Decimal(r["credit"] or 0)
    for line in ledger.trial_balance(books):
        assert per_account.get(line.account, 0) * 100 == line.debit_cents - line.credit_cents
    formulas = [r["memo"] for r in rows if "cmd|" in r["memo"]]
    assert formulas and all(m.startswith("'=") for m in formulas)


def test_export_by_date_range(runner, books, tmp_path):
    path = tmp_path / "sept.csv"
    runner.invoke(args=["fund", "export-ledger", "--format", "csv", "--from", "2026-09-01", "--to", "2026-09-30",
                        "-o", str(path)])
    rows = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))
    assert rows and all("2026-09-01" <= r["date"] <= "2026-09-30" for r in rows)
