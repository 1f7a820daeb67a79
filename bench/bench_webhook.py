"""Benchmark the webhook endpoint against a trivial view on the same server.

Run: .venv/bin/python bench/bench_webhook.py (needs PostgreSQL and Redis on
127.0.0.1). One gunicorn server (2 worker processes of 8 threads, DEBUG off)
serves both URLs; a client process sends signed message.created
notifications with unique ids to the endpoint, and same-sized POSTs to the
trivial view, in alternating rounds. Prints `name: value` lines, medians
over the rounds.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import requests

REPO = Path(__file__).resolve().parents[1]
SECRET = "bench-webhook-secret"
REQUESTS_PER_ROUND = 1500
CLIENT_THREADS = 16
ROUNDS = 5


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def notification() -> bytes:
    envelope = {
        "specversion": "1.0",
        "type": "message.created",
        "source": "/google/emails/realtime",
        "id": str(uuid.uuid4()),
        "time": int(time.time()),
        "webhook_delivery_attempt": 1,
        "data": {
            "application_id": "app-bench",
            "object": {
                "object": "message",
                "id": uuid.uuid4().hex,
                "grant_id": "grant-not-connected",
                "subject": "Quote for the Harbour Tower fit-out",
                "from": [{"name": "Dana", "email": "dana@customer.example"}],
                "to": [{"name": "Alex", "email": "alex@acme.example.com"}],
                "date": int(time.time()),
                "snippet": "x" * 100,
                "body": "<p>" + "y" * 3000 + "</p>",
            },
        },
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


def send_round(url: str, bodies: list[bytes], signed: bool) -> float:
    """Send every body with CLIENT_THREADS keep-alive clients; return req/s."""
    chunks = [bodies[i::CLIENT_THREADS] for i in range(CLIENT_THREADS)]

    def send(chunk: list[bytes]) -> None:
        with requests.Session() as session:
            for body in chunk:
                headers = {"Content-Type": "application/json"}
                if signed:
                    headers["X-Nylas-Signature"] = hmac.new(
                        SECRET.encode(), body, hashlib.sha256
                    ).hexdigest()
                answer = session.post(url, data=body, headers=headers, timeout=30)
                assert answer.status_code == 200, answer.status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        list(pool.map(send, chunks))
    return len(bodies) / (time.perf_counter() - started)


def start_server(port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.bench_settings",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/convex_email_bench",
        "SECRET_KEY": "bench-only-secret-key",
        "NYLAS_WEBHOOK_SECRET": SECRET,
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/14",
        "LOG_LEVEL": "ERROR",
    }
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "convex_email.wsgi",
         "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--worker-class", "gthread", "--threads", "8", "--log-level", "error"],
        cwd=REPO, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2)
            return server
        except OSError:
            time.sleep(0.3)
    raise SystemExit("The benchmark server did not start within 60 s.")


def main() -> None:
    sys.path.insert(0, str(REPO / "bench"))
    if TYPE_CHECKING:
        from bench.django_setup import setup_django
    else:
        from django_setup import setup_django

    setup_django()
    port = free_port()
    server = start_server(port)
    base = f"http://127.0.0.1:{port}"
    trivial, webhook = [], []
    try:
        send_round(f"{base}/trivial/", [notification() for _ in range(200)], False)
        for _ in range(ROUNDS):
            bodies = [notification() for _ in range(REQUESTS_PER_ROUND)]
            trivial.append(send_round(f"{base}/trivial/", bodies, False))
            webhook.append(send_round(f"{base}/nylas/webhook/", bodies, True))
    finally:
        server.terminate()
        server.wait(timeout=20)
        subprocess.run(["redis-cli", "-n", "14", "flushdb"], capture_output=True)

    print(f"trivial_view_per_s: {statistics.median(trivial):.0f}")
    print(f"webhook_per_s: {statistics.median(webhook):.0f}")
    print(
        "webhook_vs_trivial_ratio: "
        f"{statistics.median(webhook) / statistics.median(trivial):.2f}"
    )


if __name__ == "__main__":
    main()
