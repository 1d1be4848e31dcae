"""seed-scale (benchmarks/scale.py): bulk data whose books balance, that the app then carries on from as if it
had made it."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from fundapp.donations import offline
from fundapp.donations.models import Donation
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.ledger import exports
from fundapp.ledger import services as ledger
from fundapp.reporting import figures

ROOT = Path(__file__).resolve().parent.parent


def _seed_scale_command():
    """The seed-scale command of benchmarks/scale.py (benchmarks/ is scripts beside the app, not a package)."""
    if "benchmarks_scale" not in sys.modules:
        spec = importlib.util.spec_from_file_location("benchmarks_scale", ROOT / "benchmarks" / "scale.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["benchmarks_scale"] = module  # its dataclass looks its module up there
        spec.loader.exec_module(module)
    return sys.modules["benchmarks_scale"].seed_scale_command


def test_seed_scale_writes_balanced_books_that_bean_check_and_the_app_continues(runner, fund, create_user,
                                                                                  tmp_path):
    seed_scale = _seed_scale_command()
    assert runner.invoke(seed_scale, args=["--donations", "300", "--grants", "40"]).exit_code != 0  # no trustee
    create_user("tom@example.org", "trustee")
    result = runner.invoke(seed_scale, args=["--donations", "300", "--grants", "40"])
    assert result.exit_code == 0, result.output
    assert "Wrote 300 donations" in result.output
    lines = ledger.trial_balance(fund)
    assert sum(line.debit_cents for line in lines) == sum(line.credit_cents for line in lines) > 0
    gifts = db.session.scalars(db.select(Donation)).all()
    assert len(gifts) == 300 and sum(g.gross_cents for g in gifts) == -ledger.balance(fund, "Income:Donations")
    assert ledger.balance(fund, "Liabilities:GrantsPayable") == 0
    found = figures.dashboard(fund, clock.today(fund))
    assert sum(count for _c, count, _cents in found.categories) == 40
    assert sum(cents for _c, _n, cents in found.categories) == ledger.balance(fund, "Expenses:HardshipGrants")
    path = tmp_path / "scale.beancount"
    with open(path, "w") as out:
        exports.write_beancount(fund, out)
    check = subprocess.run([str(Path(sys.executable).parent / "bean-check"), str(path)], capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr
    # The app carries on: the next gift gets the next receipt number and new rows get fresh ids.
    gift = offline.record_offline_gift(fund, name="After", email="after@example.org", amount_cents=1_000,
                                         method="cash", received_on=clock.today(fund), notify=False)
    db.session.commit()
    same_year = [g.receipt_seq for g in gifts if g.receipt_year == gift.receipt_year]
    assert gift.receipt_seq == max(same_year, default=0) + 1
    again = runner.invoke(seed_scale, args=["--donations", "10", "--grants", "1"])
    assert again.exit_code != 0 and "already has books" in again.output
