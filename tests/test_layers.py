"""The layers of docs/ARCHITECTURE.md hold (import-linter's contracts in .importlinter), and an import that
breaks one fails the check: a copy of the code with one import added against the layers is refused."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(where: Path) -> subprocess.CompletedProcess:
    assert LINT.exists(), "import-linter is a development dependency: pip install -r requirements-dev.txt"
    return subprocess.run([str(LINT), "--no-cache"], cwd=where, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(where)})


def test_the_code_keeps_every_layer_contract():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def copy_of_the_code(tmp_path: Path) -> Path:
    for part in ("fundapp", "reports"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def add_import(module: Path, line: str) -> None:
    text = module.read_text()
    marker = "from __future__ import annotations\n"
    module.write_text(text.replace(marker, marker + line + "\n", 1))


def test_the_ledger_importing_review_breaks_the_layers(tmp_path):
    code = copy_of_the_code(tmp_path)
    add_import(code / "fundapp/ledger/services.py", "from fundapp.review import services as _review  # noqa")
    result = lint(code)
    assert result.returncode != 0
    assert "Domains stand on each other in one direction BROKEN" in result.stdout
    assert "fundapp.ledger is not allowed to import fundapp.review" in result.stdout


def test_a_page_importing_another_domains_page_is_refused(tmp_path):
    code = copy_of_the_code(tmp_path)
    add_import(code / "fundapp/bank/views.py", "from fundapp.ledger.views import bp as _ledger_pages  # noqa")
    result = lint(code)
    assert result.returncode != 0
    assert "fundapp.bank.views is not allowed to import fundapp.ledger.views" in result.stdout


def test_stripe_outside_payments_and_the_app_in_a_pdf_builder_are_refused(tmp_path):
    code = copy_of_the_code(tmp_path)
    add_import(code / "fundapp/review/services.py", "import stripe as _stripe  # noqa")
    add_import(code / "reports/receipt.py", "from fundapp.money import format_cents as _f  # noqa")
    result = lint(code)
    assert result.returncode != 0
    assert "Only fundapp.payments talks to Stripe BROKEN" in result.stdout
    assert "The PDF builders in reports/ are pure" in result.stdout and "reports.receipt" in result.stdout
