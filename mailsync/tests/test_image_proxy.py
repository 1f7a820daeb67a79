"""The image proxy's fetcher: what it rejects before connecting, and how it
reads a real response from a local server on 127.0.0.1.

Only the tests that need a response talk to the local server, and they
allow 127.0.0.1 and its port by patching the address and port checks. Every
rejection test replaces the connection opener with a spy, so a test fails
(instead of sending traffic) if the fetcher tries to connect.
"""

from __future__ import annotations

import http.server
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mailsync import image_proxy
from mailsync.image_proxy import ImageFetchError, ImageRejectedError, fetch_image

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cfc0f01f0005000201a1e0a85e0000000049454e44ae426082"
)
Route = Callable[[http.server.BaseHTTPRequestHandler], None]


class LocalImageServer:
    """A threaded HTTP server on 127.0.0.1 with per-path handlers."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[dict[str, str]] = []
        handler = self._handler_class()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append(dict(self.headers.items()))
                route = owner.routes.get(self.path.split("?")[0])
                if route is None:
                    self.send_error(404)
                    return
                route(self)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler


def send(
    handler: http.server.BaseHTTPRequestHandler,
    status: int,
    headers: dict[str, str],
    body: bytes = b"",
) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def local_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalImageServer]:
    """The local server, with 127.0.0.1 and its port allowed for this test."""
    server = LocalImageServer()
    monkeypatch.setattr(
        image_proxy, "is_public_address", lambda address: address == "127.0.0.1"
    )
    monkeypatch.setattr(image_proxy, "ALLOWED_PORTS", frozenset({80, 443, server.port}))
    yield server
    server.stop()


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[image_proxy.Target]:
    """Targets the fetcher tried to connect to; each attempt fails at once."""
    attempts: list[image_proxy.Target] = []

    def refuse(target: image_proxy.Target, timeout: float) -> None:
        attempts.append(target)
        raise OSError("test: connecting is not allowed here")

    monkeypatch.setattr(image_proxy, "open_connection", refuse)
    return attempts


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """A resolver table for host names, so no test sends a DNS query."""
    table: dict[str, list[str]] = {
        "localhost": ["127.0.0.1", "::1"],
        "metadata.google.internal": ["169.254.169.254"],
        "internal.example": ["10.1.2.3"],
        "mixed.example": ["93.184.216.34", "192.168.1.10"],
    }

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in table:
            raise socket.gaierror(f"test: {host} is not in the fake resolver")
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in table[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


def test_proxy_fetches_local_image(local_server: LocalImageServer) -> None:
    local_server.routes["/a.png"] = lambda h: send(
        h, 200, {"Content-Type": "image/png", "Content-Length": str(len(PNG))}, PNG
    )
    image = fetch_image(local_server.url("/a.png"))
    assert image.content == PNG
    assert image.content_type == "image/png"


def test_proxy_sends_no_cookie_or_referrer(local_server: LocalImageServer) -> None:
    local_server.routes["/a.png"] = lambda h: send(
        h, 200, {"Content-Type": "image/png"}, PNG
    )
    fetch_image(local_server.url("/a.png"))
    headers = {name.lower() for name in local_server.requests[0]}
    assert "cookie" not in headers
    assert "referer" not in headers
    assert "authorization" not in headers


def test_proxy_follows_checked_redirect(local_server: LocalImageServer) -> None:
    local_server.routes["/old"] = lambda h: send(h, 302, {"Location": "/a.png"})
    local_server.routes["/a.png"] = lambda h: send(
        h, 200, {"Content-Type": "image/gif"}, b"GIF89a"
    )
    assert fetch_image(local_server.url("/old")).content == b"GIF89a"


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.2]/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_FLUSHALL",
    ],
)
def test_proxy_rejects_redirect_to_internal_target(
    local_server: LocalImageServer, monkeypatch: pytest.MonkeyPatch, location: str
) -> None:
    opened: list[str] = []
    real_open = image_proxy.open_connection

    def spy(target: image_proxy.Target, timeout: float) -> Any:
        opened.append(target.address)
        return real_open(target, timeout)

    monkeypatch.setattr(image_proxy, "open_connection", spy)
    local_server.routes["/jump"] = lambda h: send(h, 302, {"Location": location})
    with pytest.raises(ImageRejectedError):
        fetch_image(local_server.url("/jump"))
    assert opened == ["127.0.0.1"]


def test_proxy_stops_after_three_redirects(local_server: LocalImageServer) -> None:
    local_server.routes["/loop"] = lambda h: send(h, 302, {"Location": "/loop"})
    with pytest.raises(ImageRejectedError, match="redirects"):
        fetch_image(local_server.url("/loop"))
    assert len(local_server.requests) == image_proxy.MAX_REDIRECTS + 1


@pytest.mark.parametrize(
    "content_type", ["text/html", "image/svg+xml", "application/octet-stream", ""]
)
def test_proxy_rejects_non_raster_types(
    local_server: LocalImageServer, content_type: str
) -> None:
    local_server.routes["/x"] = lambda h: send(
        h, 200, {"Content-Type": content_type}, b"<svg onload=alert(1)>"
    )
    with pytest.raises(ImageRejectedError, match="content type"):
        fetch_image(local_server.url("/x"))


def test_proxy_rejects_declared_large_image(local_server: LocalImageServer) -> None:
    size = image_proxy.MAX_IMAGE_BYTES + 1
    local_server.routes["/big"] = lambda h: send(
        h, 200, {"Content-Type": "image/png", "Content-Length": str(size)}
    )
    with pytest.raises(ImageRejectedError, match="larger"):
        fetch_image(local_server.url("/big"))


def test_proxy_rejects_undeclared_large_image(
    local_server: LocalImageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(image_proxy, "MAX_IMAGE_BYTES", 1000)
    local_server.routes["/big"] = lambda h: send(
        h, 200, {"Content-Type": "image/png"}, b"x" * 5000
    )
    with pytest.raises(ImageRejectedError, match="larger"):
        fetch_image(local_server.url("/big"))


def test_proxy_times_out_on_slow_server(
    local_server: LocalImageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(image_proxy, "TOTAL_TIMEOUT_SECONDS", 0.5)

    def slow(handler: http.server.BaseHTTPRequestHandler) -> None:
        time.sleep(1.5)
        send(handler, 200, {"Content-Type": "image/png"}, PNG)

    local_server.routes["/slow"] = slow
    started = time.monotonic()
    with pytest.raises(ImageFetchError):
        fetch_image(local_server.url("/slow"))
    assert time.monotonic() - started < 1.4


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a.png",
        "http://127.1/a.png",
        "http://10.0.0.1/a.png",
        "http://172.16.5.4/a.png",
        "http://192.168.0.1/a.png",
        "http://100.64.0.1/a.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0/a.png",
        "http://224.0.0.1/a.png",
        "http://240.0.0.1/a.png",
        "http://[::1]/a.png",
        "http://[::]/a.png",
        "http://[fe80::1]/a.png",
        "http://[fc00::1]/a.png",
        "http://[ff02::1]/a.png",
        "http://[::ffff:127.0.0.1]/a.png",
        "http://[::ffff:169.254.169.254]/a.png",
        "http://[64:ff9b::7f00:1]/a.png",
        "http://[2002:7f00:1::]/a.png",
        "http://localhost/a.png",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://internal.example/a.png",
        "http://mixed.example/a.png",
    ],
)
def test_proxy_rejects_internal_address_without_connecting(
    url: str, connections: list[image_proxy.Target], fake_dns: dict[str, list[str]]
) -> None:
    with pytest.raises(ImageRejectedError, match="not public"):
        fetch_image(url)
    assert connections == []


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/a.png",
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "file:///etc/passwd",
        "http://example.com:8080/a.png",
        "https://example.com:6379/a.png",
        "http://user:secret@example.com/a.png",
        "http:///a.png",
        "http://[::1/a.png",
    ],
)
def test_proxy_rejects_bad_url_without_lookup(
    url: str, connections: list[image_proxy.Target], fake_dns: dict[str, list[str]]
) -> None:
    with pytest.raises(ImageRejectedError):
        fetch_image(url)
    assert connections == []


def test_proxy_connects_to_the_checked_address(
    monkeypatch: pytest.MonkeyPatch, connections: list[image_proxy.Target]
) -> None:
    answers = [["93.184.216.34"], ["127.0.0.1"]]
    lookups: list[str] = []

    def rebinding_resolver(host: str, port: int) -> list[str]:
        lookups.append(host)
        return answers[min(len(lookups) - 1, 1)]

    monkeypatch.setattr(image_proxy, "resolve", rebinding_resolver)
    with pytest.raises(ImageFetchError):
        fetch_image("https://rebind.example/a.png")
    assert lookups == ["rebind.example"]
    assert [target.address for target in connections] == ["93.184.216.34"]
    assert connections[0].host == "rebind.example"


def test_proxy_rejects_every_ssrf_vector(
    shared_dir: Path,
    connections: list[image_proxy.Target],
    fake_dns: dict[str, list[str]],
) -> None:
    path = shared_dir / "cases" / "xss" / "vectors.jsonl"
    rows = [json.loads(line) for line in path.read_text().split("\n") if line]
    sources = [
        match.group(1)
        for row in rows
        if row["class"] == "ssrf"
        for match in re.finditer(r'src="([^"]+)"', row["html"])
    ]
    assert sources != []
    accepted = []
    for source in sources:
        try:
            fetch_image(source)
        except ImageRejectedError:
            continue
        except ImageFetchError:
            pass
        accepted.append(source)
    assert accepted == []
    assert connections == []
