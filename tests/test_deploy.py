"""deploy/: the systemd units verify (with the paths of this checkout in place of /opt/fundapp, so that
`systemd-analyze verify` finds the programs they start), every unit runs a real `fund` command with the hardening
the README promises, each scheduled job has its timer, and the Procfile and the TLS proxy's example agree with the
app (its commands; the forwarded headers TRUSTED_PROXIES trusts)."""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess  # nosec B404 # systemd-analyze, on files the test writes
from pathlib import Path

import pytest

from fundapp.cli import fund_cli

ROOT = Path(__file__).resolve().parent.parent
UNITS = ROOT / "deploy" / "systemd"
INSTALL = "/opt/fundapp"
#: Each scheduled job: its `fund` command and when it runs.
JOBS = {
    "reconcile": ("reconcile-stripe", "hourly"),
    "check-books": ("check-books", "*-*-* 02:30:00"),
    "audit-anchor": ("audit-anchor", "*-*-* 02:45:00"),
    "backup": ("backup", "*-*-* 03:00:00"),
    "purge-closed": ("purge-closed", "Sun *-*-* 04:00:00"),
    "statements": ("send-statements", "*-01-15 09:00:00"),
}
HARDENING = ("User=fundapp", "Group=fundapp", "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
             "EnvironmentFile=/etc/fundapp/env")
WRITABLE = {"/var/lib/fundapp/documents", "/var/backups/fundapp"}


def _setting(text: str, name: str) -> list[str]:
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(name + "=")]


def _fund_commands(command_line: str) -> list[str]:
    return re.findall(r"flask --app wsgi fund ([a-z-]+)", command_line)


def test_the_units_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        print("systemd-analyze is not installed here: the units were not verified")
        pytest.skip("systemd-analyze is absent")
    assert (ROOT / ".venv" / "bin" / "gunicorn").exists() and (ROOT / ".venv" / "bin" / "flask").exists()
    for unit in UNITS.iterdir():
        (tmp_path / unit.name).write_text(unit.read_text().replace(INSTALL, str(ROOT)))
    names = sorted(path.name for path in tmp_path.iterdir())
    done = subprocess.run([analyze, "verify", "--man=no", *names], cwd=tmp_path, capture_output=True,  # nosec B603
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stdout + done.stderr == "", done.stdout + done.stderr


def test_a_unit_that_starts_a_missing_program_fails_verification(tmp_path):
    """The check above has teeth: verify does look for the program."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is absent")
    (tmp_path / "fundapp-web.service").write_text((UNITS / "fundapp-web.service").read_text())  # /opt/fundapp: absent
    done = subprocess.run([analyze, "verify", "--man=no", "fundapp-web.service"], cwd=tmp_path,  # nosec B603
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "is not executable" in done.stderr


def test_every_unit_runs_a_real_command_hardened():
    services = sorted(UNITS.glob("*.service"))
    assert {path.stem for path in services} == {"fundapp-web", "fundapp-worker"} | {f"fundapp-{job}" for job in JOBS}
    for path in services:
        text = path.read_text()
        for option in HARDENING:
            assert option in text.splitlines(), f"{path.name} lacks {option}"
        assert set(" ".join(_setting(text, "ReadWritePaths")).split()) <= WRITABLE, path.name
        (start,) = _setting(text, "ExecStart")
        program = shlex.split(start)[0]
        assert program.startswith(INSTALL + "/.venv/bin/") or program == "/bin/sh", path.name
        if path.stem == "fundapp-web":
            assert start.startswith(f"{INSTALL}/.venv/bin/gunicorn --config deploy/gunicorn.conf.py") \
                and start.endswith(" wsgi:app") and "127.0.0.1:8000" in start
            assert _setting(text, "ReadWritePaths") == ["/var/lib/fundapp/documents"]
            continue
        (command,) = _fund_commands(start)
        assert command in fund_cli.commands, f"{path.name} runs `fund {command}`, which does not exist"
    assert _fund_commands((UNITS / "fundapp-worker.service").read_text()) == ["worker"]
    assert "/var/backups/fundapp" in _setting((UNITS / "fundapp-backup.service").read_text(), "ReadWritePaths")[0]


def test_the_web_server_and_the_worker_count_their_metrics_into_one_folder_the_jobs_do_not():
    """prometheus_client's multiprocess mode: both long-running units name the same folder and keep it when they stop
    (neither removes the other's counts); the scheduled jobs and the settings file leave the variable unset."""
    for unit in ("fundapp-web", "fundapp-worker"):
        text = (UNITS / f"{unit}.service").read_text()
        assert _setting(text, "Environment") == ["PROMETHEUS_MULTIPROC_DIR=/run/fundapp-metrics"], unit
        assert _setting(text, "RuntimeDirectory") == ["fundapp-metrics"], unit
        assert _setting(text, "RuntimeDirectoryPreserve") == ["yes"], unit
    for path in UNITS.glob("*.service"):
        if path.stem not in ("fundapp-web", "fundapp-worker"):
            assert "PROMETHEUS_MULTIPROC_DIR" not in path.read_text(), path.name
    assert "PROMETHEUS_MULTIPROC_DIR=" not in (ROOT / "deploy" / "env.example").read_text()
    assert "def child_exit(server, worker)" in (ROOT / "deploy" / "gunicorn.conf.py").read_text()


def test_each_scheduled_job_has_its_timer():
    for job, (command, calendar) in JOBS.items():
        service = (UNITS / f"fundapp-{job}.service").read_text()
        timer = (UNITS / f"fundapp-{job}.timer").read_text()
        assert _fund_commands(service) == [command]
        assert _setting(service, "Type") == ["oneshot"]
        assert _setting(timer, "OnCalendar") == [calendar] and _setting(timer, "Persistent") == ["true"]
    assert {path.stem for path in UNITS.glob("*.timer")} == {f"fundapp-{job}" for job in JOBS}


def test_the_procfiles_run_real_commands():
    for procfile in (ROOT / "deploy" / "Procfile", ROOT / "Procfile.serve"):
        processes = dict(line.split(": ", 1) for line in procfile.read_text().splitlines()
                         if line and not line.startswith("#"))
        assert {"web", "worker"} <= set(processes)
        assert processes["web"].startswith("gunicorn --config deploy/gunicorn.conf.py")
        for line in processes.values():
            for command in _fund_commands(line):
                assert command in fund_cli.commands, f"{procfile.name}: `fund {command}` does not exist"


def test_the_proxy_sets_the_headers_trusted_proxies_trusts():
    """ProxyFix (TRUSTED_PROXIES) reads X-Forwarded-For, -Proto and -Host; the Caddy example sets all three."""
    caddy = (ROOT / "deploy" / "Caddyfile").read_text()
    for header, value in (("X-Forwarded-For", "{remote_host}"), ("X-Forwarded-Proto", "{scheme}"),
                          ("X-Forwarded-Host", "{host}")):
        assert f"header_up {header} {value}" in caddy
    assert "reverse_proxy 127.0.0.1:8000" in caddy
    assert "@metrics path /metrics /metrics/*\n\trespond @metrics 404" in caddy  # never to the internet
    init = (ROOT / "fundapp" / "__init__.py").read_text()
    assert "ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)" in init
    assert "TRUSTED_PROXIES=1" in (ROOT / "deploy" / "env.example").read_text()
