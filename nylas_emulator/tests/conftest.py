"""Fixtures: a running emulator, an SDK client, and a local webhook receiver."""

from __future__ import annotations

import json
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import nylas
import pytest

from nylas_emulator.server import EmulatorHandle, start_emulator

ALEX = "alex.morgan@acme.example.com"
PRIYA = "priya.raman@acme.example.com"
ALEX_GRANT = "grant-alex-0001"
PRIYA_GRANT = "grant-priya-0002"
NOW = 1_764_000_000
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    handle = start_emulator(port=0, webhook_base_delay_s=0.05)
    yield handle
    handle.stop()


@pytest.fixture
def client(emulator: EmulatorHandle) -> nylas.Client:
    return nylas.Client(emulator.api_key, api_uri=emulator.url)


def control(
    handle: EmulatorHandle, method: str, path: str, body: Any = None
) -> dict[str, Any]:
    """Call a /_emulator route and return the decoded JSON, whatever the status."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        handle.url + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with _OPENER.open(request, timeout=10) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        return dict(json.loads(exc.read()))


def seed(handle: EmulatorHandle, owner: str, grant: str, count: int = 0) -> None:
    body: dict[str, Any] = {"owner": owner, "grant_id": grant}
    if count:
        body["generate"] = {"count": count, "days": 30, "seed": 7, "now": NOW}
    control(handle, "POST", "/_emulator/mailboxes", body)


@pytest.fixture
def two_mailboxes(emulator: EmulatorHandle) -> EmulatorHandle:
    seed(emulator, ALEX, ALEX_GRANT, 300)
    seed(emulator, PRIYA, PRIYA_GRANT, 0)
    return emulator


@dataclass
class Receiver:
    """A webhook endpoint on 127.0.0.1 that records every POST it gets."""

    url: str
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    answer_challenge: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for _, body in self.posts]


def _receiver_handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
            answer = (
                query.get("challenge", [""])[0] if receiver.answer_challenge else "no"
            )
            self._reply(200, answer.encode())

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with receiver.lock:
                receiver.posts.append(
                    ({k.lower(): v for k, v in self.headers.items()}, body)
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
            self._reply(status, b"ok")

        def _reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder = Receiver(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _receiver_handler(holder))
    holder.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield holder
    server.shutdown()
    server.server_close()


def subscribe(client: nylas.Client, receiver: Receiver, triggers: list[str]) -> str:
    """Create a destination through the SDK and return its secret."""
    created = client.webhooks.create(
        {"trigger_types": triggers, "webhook_url": receiver.url}
    )
    return str(created.data.webhook_secret)


def flush(handle: EmulatorHandle) -> dict[str, Any]:
    return control(handle, "POST", "/_emulator/webhooks/flush", {"timeout": 10})
