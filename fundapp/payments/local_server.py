"""The local Stripe server (localstripe) in this process, on 127.0.0.1, for ``make run`` and the tests,
speaking the API version the SDK pins.

localstripe is a development dependency (requirements-dev.txt), never part of a
production install; this module imports it only when started. Its own command
line binds every interface and reloads a pickle from /tmp, so instead its
aiohttp app is served here on the loopback address, with its pickling off.

localstripe answers in the shapes of API versions from before 2025: ``local_today.speak_today`` puts an
adapter in front of it (see that module), so that the gateway runs the same code paths as against Stripe.
"""
from __future__ import annotations

import asyncio
import threading
import time
import urllib.request
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

from fundapp.payments.local_today import _BASE_URL, speak_today  # noqa: F401


class LocalStripe:
    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.runner: web.AppRunner | None = None
        self.base_url: str | None = None

    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1:``port`` (0: any free port) in a daemon thread; returns the base URL."""
        try:
            import localstripe.resources as resources
            from aiohttp import web
            from localstripe.server import app
        except ImportError as exc:  # pragma: no cover - a production install has no localstripe
            raise RuntimeError("local mode needs the development requirements: pip install -r requirements-dev.txt"
                               ) from exc
        resources.Store.dump_to_disk = lambda self: None  # keep its state in memory only
        speak_today(app)
        self.loop = loop = asyncio.new_event_loop()
        self.runner = runner = web.AppRunner(app)
        started = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
            started.set()
            loop.run_forever()

        threading.Thread(target=serve, name="localstripe", daemon=True).start()
        if not started.wait(10):
            raise RuntimeError("the local Stripe server did not start")
        self.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        _BASE_URL[:] = [self.base_url]
        return self.base_url

    def _call(self, method: str, path: str, data: bytes | None = None) -> None:
        if self.base_url is None:
            raise RuntimeError("the local Stripe server is not started")
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers={"Authorization": "Bearer sk_test_local"})
        with urllib.request.urlopen(request, timeout=10):  # nosec B310 # always http://127.0.0.1, the local Stripe server started here
            pass

    def fail_payout(self, payout_id: str) -> None:
        """The bank returns a paid payout: it fails, and ``payout.failed`` follows."""
        self._call("POST", f"/_config/payouts/{payout_id}/fail", b"")

    def register_webhook(self, url: str, secret: str, name: str = "fundapp") -> None:
        """Have the server sign and send every event to ``url`` (once, about a second after it happens)."""
        from urllib.parse import urlencode

        self._call("POST", f"/_config/webhooks/{name}", urlencode({"url": url, "secret": secret}).encode())

    def reset(self) -> None:
        """Forget every object and webhook, and drop events not sent yet (between tests: an event is
        sent about a second after it happens, to whichever webhook is registered by then)."""
        from localstripe import webhooks

        webhooks._webhooks.clear()

        async def drop_unsent() -> None:
            for task in asyncio.all_tasks():
                # A coroutine object has __qualname__; typeshed does not declare it on Task.get_coro()'s result.
                if task.get_coro().__qualname__ == webhooks._send_webhook.__qualname__:  # type: ignore[union-attr]
                    task.cancel()

        if self.loop is not None:
            asyncio.run_coroutine_threadsafe(drop_unsent(), self.loop).result(10)
        self._call("DELETE", "/_config/data")

    def stop(self) -> None:
        if self.loop is None or self.runner is None:
            return
        future = asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop)
        future.result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        time.sleep(0.05)
        self.loop = None
