"""The tree of processes a test started, read from /proc, so a test can show it leaves none behind."""
from __future__ import annotations

import time
from pathlib import Path

import pytest


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(check, what: str, timeout: float, interval: float = 0.2, log: Path | None = None):
    """Poll ``check()`` until it returns something truthy, and return it; fail the test saying ``what`` did not
    happen within ``timeout`` seconds (with the end of ``log``, where the processes write theirs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    pytest.fail(f"{what} within {timeout:.0f} s" + (f"; the log:\n{log.read_text()[-4000:]}" if log else ""))
