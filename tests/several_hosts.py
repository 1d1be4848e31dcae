"""Several app hosts on one machine, for tests/test_several_hosts.py: where each host runs (a network namespace of its
own with its own address where the machine allows it, else a loopback address of its own), and the round-robin proxy
in front of them, as a load balancer would stand.

In a namespace a host has its own loopback too: PostgreSQL, Redis and the local Stripe server are reached there at
127.0.0.1 on their usual ports through relays whose listening sockets this process opens inside the namespace, so the
hosts run with the same settings in both modes. Every address used is 127.0.0.0/8 or one the test gave to a
namespace it made itself; nothing goes beyond this machine.
"""
from __future__ import annotations

import ctypes
import http.client
import ipaddress
import os
import random
import shutil
import socket
import subprocess  # nosec B404 # the test sets up its hosts' network namespaces with `ip`
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from requests.adapters import HTTPAdapter

CLONE_NEWNET = 0x40000000  # setns(2): join a network namespace
#: Headers about one connection, which a proxy does not pass on (RFC 9110, 7.6.1); the length is its own.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
              "content-length", "date", "server"}


@dataclass(frozen=True)
class Place:
    """Where one host runs: the address it binds, and its network namespace (None: this machine's own)."""

    address: str
    port: int
    netns: str | None = None

    def command(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *argv] if self.netns else argv


class _Ends:
    """The two sockets of a relayed connection, closed once both directions are done."""

    def __init__(self, *sockets: socket.socket):
        self.sockets, self.done, self.lock = sockets, 0, threading.Lock()

    def one_done(self) -> None:
        with self.lock:
            self.done += 1
            if self.done == 2:
                for sock in self.sockets:
                    sock.close()


class Relay:
    """Each connection to ``listener`` goes on to 127.0.0.1:``port`` of this machine, byte for byte both ways; when
    one side closes its half, the other side's is closed too (a killed host's database connections end at once)."""

    def __init__(self, listener: socket.socket, port: int):
        self.listener, self.port = listener, port
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, name=f"relay-{port}", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                inside, _ = self.listener.accept()
            except OSError:  # closed
                return
            try:
                outside = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            except OSError:
                inside.close()
                continue
            outside.settimeout(None)
            self.connections += [inside, outside]
            ends = _Ends(inside, outside)
            for source, target in ((inside, outside), (outside, inside)):
                threading.Thread(target=self._pump, args=(source, target, ends), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket, ends: _Ends) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
            target.shutdown(socket.SHUT_WR)
        except OSError:
            for end in (source, target):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        ends.one_done()

    def close(self) -> None:
        for sock in (self.listener, *self.connections):
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the thread waiting in accept()
            except OSError:
                pass
            sock.close()


def listen_in(netns: str, address: str, port: int) -> socket.socket:
    """A listening socket inside the network namespace ``netns`` (made from a thread that joins it: a network
    namespace is a thread's, and a socket stays in the one it was made in)."""
    made: list[socket.socket | BaseException] = []

    def make() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns into {netns}: {os.strerror(ctypes.get_errno())}")
            finally:
                os.close(fd)
            sock = socket.socket()
            sock.bind((address, port))
            sock.listen(64)
            made.append(sock)
        except BaseException as exc:  # handed to the caller's thread
            made.append(exc)

    thread = threading.Thread(target=make)
    thread.start()
    thread.join()
    if isinstance(made[0], BaseException):
        raise made[0]
    return made[0]


def _ip(*args: str) -> str:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=True,  # nosec B603 B607 # `ip` itself
                          timeout=10).stdout


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 in 10.0.0.0/8 that no address or route of this machine touches."""
    taken = [ipaddress.ip_network(line.split()[3], strict=False) for line in _ip("-4", "-o", "addr").splitlines()]
    taken += [ipaddress.ip_network(line.split()[0], strict=False) for line in _ip("-4", "route").splitlines()
              if line.split()[0] != "default"]
    for _ in range(100):
        candidate = ipaddress.ip_network(f"10.{random.randint(64, 254)}.{random.randint(0, 255)}.0/24")  # nosec B311 # an address plan, not a secret
        if not any(candidate.overlaps(network) for network in taken):
            return candidate
    raise OSError("no free 10.x.y.0/24 for the hosts' namespaces")


def _free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


@dataclass
class Places:
    """Where ``count`` hosts run, with the ports of this machine's services they reach at 127.0.0.1 (``shared``).
    ``mode`` says which was possible; ``close()`` undoes what was made."""

    run: str
    count: int
    shared: list[int]
    namespaces: bool = True  # False: loopback addresses only
    places: list[Place] = field(default_factory=list)
    mode: str = ""
    _namespaces: list[str] = field(default_factory=list)
    _links: list[str] = field(default_factory=list)
    _relays: list[Relay] = field(default_factory=list)

    def __post_init__(self) -> None:
        try:
            self._in_namespaces()
        except (OSError, subprocess.SubprocessError) as exc:
            reason = exc.stderr.strip() if isinstance(exc, subprocess.CalledProcessError) else str(exc)
            self.close()
            self.places = [Place(f"127.0.0.{n + 2}", _free_port(f"127.0.0.{n + 2}")) for n in range(self.count)]
            self.mode = (f"loopback: each host on an address of its own ({', '.join(p.address for p in self.places)}),"
                         f" no network namespaces here ({reason or 'ip netns failed'})")

    def _in_namespaces(self) -> None:
        if not self.namespaces:
            raise OSError("PostgreSQL is not at 127.0.0.1, where the namespaces' relays lead")
        if shutil.which("ip") is None:
            raise OSError("no `ip` command")
        subnets = list(_free_subnet().subnets(new_prefix=30))
        for n in range(self.count):
            name, link = f"fundapp-{self.run}-{n}", f"fh{self.run}{n}"
            ours, theirs = (str(address) for address in list(subnets[n].hosts())[:2])
            _ip("netns", "add", name)
            self._namespaces.append(name)
            _ip("link", "add", link, "type", "veth", "peer", "name", link + "p", "netns", name)
            self._links.append(link)
            _ip("addr", "add", f"{ours}/30", "dev", link)
            _ip("link", "set", link, "up")
            _ip("-n", name, "addr", "add", f"{theirs}/30", "dev", link + "p")
            _ip("-n", name, "link", "set", link + "p", "up")
            _ip("-n", name, "link", "set", "lo", "up")
            _ip("netns", "exec", name, "true")  # running a command in it works here too
            for port in self.shared:
                self._relays.append(Relay(listen_in(name, "127.0.0.1", port), port))
            self.places.append(Place(theirs, 8000, name))
        self.mode = (f"network namespaces: each host in its own ({', '.join(self._namespaces)}) with its own address "
                     f"({', '.join(p.address for p in self.places)})")

    def close(self) -> None:
        for relay in self._relays:
            relay.close()
        for link in self._links:
            subprocess.run(["ip", "link", "del", link], capture_output=True, timeout=10)  # nosec B603 B607 # `ip` itself
        for name in self._namespaces:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)  # nosec B603 B607 # `ip` itself
        self._relays, self._links, self._namespaces = [], [], []


@dataclass(frozen=True)
class Served:
    host: str
    method: str
    path: str
    status: int
    at: float


class RoundRobinProxy:
    """A load balancer on 127.0.0.1: each request goes to the next host in turn, with the visitor's address added to
    X-Forwarded-For. A host that refuses the connection is marked down (as a health check would take it out) and the
    request goes to the next; a host that fails once it has the request gives 502, as nginx does for a request it
    cannot safely send twice. Each answer names its host (X-Served-By); ``served`` and ``failed`` keep them all."""

    def __init__(self) -> None:
        self.hosts: list[tuple[str, Place]] = []
        self.down: set[str] = set()
        self.served: list[Served] = []
        self.failed: list[Served] = []
        self._turn = 0
        self._lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), _ProxyHandler)
        self.server.proxy = self
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, name="proxy", daemon=True).start()

    def in_turn(self) -> list[tuple[str, Place]]:
        """The hosts up, starting with the one whose turn it is."""
        with self._lock:
            start = self._turn
            self._turn += 1
        ordered = self.hosts[start % len(self.hosts):] + self.hosts[:start % len(self.hosts)]
        return [(name, place) for name, place in ordered if name not in self.down]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # donors and webhooks at once


class _ProxyHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def log_message(self, *args) -> None:
        pass  # the hosts log each request themselves

    def _forward(self) -> None:
        proxy: RoundRobinProxy = self.server.proxy
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP}
        before = self.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{before}, {self.client_address[0]}" if before else self.client_address[0]
        for name, place in proxy.in_turn():
            upstream = http.client.HTTPConnection(place.address, place.port, timeout=60)
            try:
                upstream.connect()
            except OSError:
                proxy.down.add(name)
                continue
            try:
                upstream.request(self.command, self.path, body, headers)
                answer = upstream.getresponse()
                data = answer.read()
            except (OSError, http.client.HTTPException):
                proxy.failed.append(Served(name, self.command, self.path, 502, time.monotonic()))
                self._answer(502, [], b"the host failed during the request", name)
                return
            finally:
                upstream.close()
            proxy.served.append(Served(name, self.command, self.path, answer.status, time.monotonic()))
            self._answer(answer.status, answer.getheaders(), data, name)
            return
        self._answer(502, [], b"no host is up", "")

    def _answer(self, status: int, headers: list[tuple[str, str]], data: bytes, host: str) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Served-By", host)
        self.end_headers()
        self.wfile.write(data)


class _FromAddress(HTTPAdapter):
    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


class Browser(requests.Session):
    """A visitor on an address of its own in 127.0.0.0/8, talking to the proxy (paths are relative to it)."""

    def __init__(self, base: str, address: str):
        super().__init__()
        self.base, self.address = base, address
        self.mount("http://", _FromAddress(address))

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", 60)
        return super().request(method, url if url.startswith("http") else self.base + url, *args, **kwargs)
