"""Local mode's safety check, apart from the gateway so that settings can run it without importing Stripe's SDK:
local mode (``STRIPE_API_BASE`` set: a Stripe-compatible server on this machine) takes test keys and a
loopback address only."""
from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

__all__ = ["LocalModeUnsafe", "check_local_mode"]


class LocalModeUnsafe(RuntimeError):
    """Local mode was asked for with a live key or a remote address."""


def check_local_mode(config: Mapping[str, Any]) -> None:
    """Local mode is for test keys on this machine only: refuse a live key or a remote address."""
    base = config.get("STRIPE_API_BASE")
    if not base:
        return
    key = config.get("STRIPE_SECRET_KEY") or ""
    if key.startswith(("sk_live", "rk_live")):
        raise LocalModeUnsafe("STRIPE_API_BASE is set (local mode) but STRIPE_SECRET_KEY is a live key: refusing.")
    host = urlsplit(base).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise LocalModeUnsafe(f"STRIPE_API_BASE must be a loopback address in local mode, not {host!r}.")
