"""Static analysis, as part of the suite: bandit over fundapp/ and reports/ with every exception explained,
and our own semgrep rules (.semgrep/fundapp.yml), which are shown to catch what they are for."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CODE = ["fundapp", "reports", "wsgi.py"]


def test_bandit_finds_nothing_unexplained():
    run = subprocess.run([str(BIN / "bandit"), "-q", "-r", "fundapp", "reports", "-f", "json"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    report = json.loads(run.stdout)
    assert report["results"] == [], [(r["filename"], r["line_number"], r["test_id"]) for r in report["results"]]
    assert report["metrics"]["_totals"]["loc"] > 5_000  # it read the code
    # every finding set aside says which check and why, on the line itself
    for path in (ROOT / "fundapp").rglob("*.py"), (ROOT / "reports").rglob("*.py"):
        for file in path:
            for number, line in enumerate(file.read_text().splitlines(), start=1):
                if "nosec" in line:
                    assert re.search(r"# nosec B\d{3} # \S.{8,}", line), f"{file}:{number} sets a finding aside without why"


def semgrep(paths, cwd):
    run = subprocess.run([str(BIN / "semgrep"), "--config", str(ROOT / ".semgrep" / "fundapp.yml"), "--metrics=off",
                          "--disable-version-check", "--json", *paths], cwd=cwd, capture_output=True, text=True,
                         timeout=300)
    return json.loads(run.stdout)


def test_our_semgrep_rules_find_nothing_in_the_code():
    report = semgrep(CODE, ROOT)
    assert report["errors"] == []
    assert len(report["paths"]["scanned"]) > 50
    assert [(r["path"], r["start"]["line"], r["check_id"]) for r in report["results"]] == []


def test_our_semgrep_rules_catch_what_they_are_for(tmp_path):
    bad = tmp_path / "fundapp" / "review" / "sample.py"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "import stripe\n"
        "from markupsafe import Markup\n\n\n"
        "def bad(db, name, conn):\n"
        "    db.session.execute(db.text(f\"SELECT * FROM users WHERE name = '{name}'\"))\n"
        "    conn.execute(\"DELETE FROM x WHERE id = %s\" % name)\n"
        "    return Markup(name)\n\n\n"
        "def fine(db, name):\n"
        "    return db.session.execute(db.text(\"SELECT 1 WHERE :n\"), {\"n\": name}), Markup(\"<br>\")\n")
    found = sorted((r["check_id"].rsplit(".", 1)[-1], r["start"]["line"]) for r in semgrep(["fundapp"], tmp_path)["results"])
    assert found == [("no-markup-from-data", 8), ("no-sql-built-from-strings", 6), ("no-sql-built-from-strings", 7),
                     ("stripe-only-in-payments", 1)]
