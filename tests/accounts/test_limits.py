"""Rate limits on signing in and on reset links: per account (failures only) and per address, the
same pause whether or not an account uses the address typed, shared by workers through Redis."""
from __future__ import annotations

import re
import uuid

import pytest
import redis

from fundapp import create_app, throttle
from fundapp.extensions import db
from tests.conftest import PASSWORD, base_config, run_worker_once

WRONG = "not the password at all"


def attempt(client, email, password=WRONG, address="10.0.0.1"):
    return client.post("/login", data={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def test_ten_tries_pause_the_account_even_for_the_right_password(client, create_user):
    create_user("rosa@example.org")
    for _ in range(10):
        assert attempt(client, "rosa@example.org").status_code == 422
    paused = attempt(client, "Rosa@Example.org ", password=PASSWORD)  # the same account, however typed
    assert paused.status_code == 429
    assert int(paused.headers["Retry-After"]) > 0
    assert "Too many tries" in paused.get_data(as_text=True)
    assert attempt(client, "rosa@example.org", password=PASSWORD, address="10.9.9.9").status_code == 429
    # another account from the same address is not paused
    create_user("ana@example.org")
    assert attempt(client, "ana@example.org", password=PASSWORD).status_code == 302


def test_the_pause_looks_the_same_for_an_address_no_account_uses(client, create_user):
    create_user("rosa@example.org")
    answers = {}
    for email in ("rosa@example.org", "nobody@example.org"):
        statuses = [attempt(client, email).status_code for _ in range(11)]
        last = attempt(client, email)
        page = re.sub(r'name="csrf_token" value="[^"]*"', "", last.get_data(as_text=True))  # a fresh token each time
        page = page.replace(last.headers["X-Request-ID"], "")  # and a fresh reference to quote, each request its own
        answers[email] = (statuses, last.status_code, page.replace(email, ""))
    assert answers["rosa@example.org"] == answers["nobody@example.org"]
    assert answers["rosa@example.org"][0] == [422] * 10 + [429]


def test_tries_sent_all_at_once_cannot_slip_past_the_count(app, create_user):
    """Counted before the password is checked: 20 guesses sent together from 20 addresses, 10 get through."""
    import threading

    create_user("rosa@example.org")
    start, answers = threading.Barrier(20), []

    def guess(n):
        with app.app_context():
            client = app.test_client()
            start.wait()
            answers.append(attempt(client, "rosa@example.org", address=f"10.1.1.{n}").status_code)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == [422] * 10 + [429] * 10


def test_one_address_trying_many_accounts_is_paused(client, create_user):
    limit = int(throttle.PER_ADDRESS.split()[0])
    statuses = [attempt(client, f"guess{n}@example.org", address="10.6.6.6").status_code for n in range(limit + 1)]
    assert statuses[:limit] == [422] * limit and statuses[limit] == 429
    assert attempt(client, "guess0@example.org", address="10.7.7.7").status_code == 422  # elsewhere: not paused


def test_reset_links_are_limited_per_address_typed(client, create_user, smtp):
    create_user("rosa@example.org")
    statuses = [client.post("/reset", data={"email": "rosa@example.org"}).status_code for _ in range(4)]
    assert statuses == [302, 302, 302, 429]
    run_worker_once()
    assert len(smtp.messages) == 3


def test_behind_a_trusted_proxy_each_visitor_is_counted_apart(database_url, _migrated_app):
    app = create_app(base_config(database_url, TRUSTED_PROXIES=1,
                                 RATELIMIT_KEY_PREFIX=f"proxy-{uuid.uuid4().hex}"))
    client = app.test_client()
    limit = int(throttle.PER_ADDRESS.split()[0])
    for n in range(limit):
        client.post("/login", data={"email": f"g{n}@example.org", "password": WRONG},
                    headers={"X-Forwarded-For": "203.0.113.5"})
    paused = client.post("/login", data={"email": "x@example.org", "password": WRONG},
                         headers={"X-Forwarded-For": "203.0.113.5"})
    other = client.post("/login", data={"email": "x@example.org", "password": WRONG},
                        headers={"X-Forwarded-For": "198.51.100.7"})
    assert (paused.status_code, other.status_code) == (429, 422)
    with app.app_context():
        db.engine.dispose()


def test_workers_share_the_count_through_redis(database_url, _migrated_app, create_user):
    """Two app processes (here two app objects) on the real Redis at 127.0.0.1:6379: the tenth try on
    one pauses the account on the other too."""
    create_user("rosa@example.org")
    server = redis.Redis.from_url("redis://127.0.0.1:6379/15")
    try:
        server.ping()
    except redis.ConnectionError:
        pytest.fail("Redis is not running at 127.0.0.1:6379 (CI starts it; see TESTING.md)")
    prefix = f"test-{uuid.uuid4().hex}"
    config = base_config(database_url, REDIS_URL="redis://127.0.0.1:6379/15",
                         RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/15", RATELIMIT_KEY_PREFIX=prefix)
    first, second = create_app(config), create_app(config)
    try:
        for n in range(10):
            worker = (first if n % 2 else second).test_client()
            assert attempt(worker, "rosa@example.org").status_code == 422
        assert attempt(first.test_client(), "rosa@example.org", password=PASSWORD).status_code == 429
        assert attempt(second.test_client(), "rosa@example.org", password=PASSWORD).status_code == 429
        assert server.keys(f"*{prefix}*")  # the counts are in Redis, not in either process
    finally:
        for key in server.scan_iter(f"*{prefix}*"):
            server.delete(key)
        for app in (first, second):
            with app.app_context():
                db.engine.dispose()
