"""Benchmark the Nylas emulator: generation and full listing through the SDK.

Run: .venv/bin/python bench/bench_emulator.py
Prints ``name: value`` lines.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import nylas

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nylas_emulator.generate import generate_mailbox
from nylas_emulator.server import (
    EmulatorHandle,
    dispatch,
    parse_request,
    start_emulator,
)
from nylas_emulator.store import Store, new_grant

OWNER = "bench@acme.example.com"
GRANT_ID = "grant-bench"
COUNT = 20_000
SELECT = "id,grant_id,thread_id,subject,from,to,cc,bcc,reply_to,date"


def main() -> None:
    now = int(time.time())
    started = time.perf_counter()
    generated = generate_mailbox(OWNER, COUNT, 90, 1, now)
    generate_s = time.perf_counter() - started

    store = Store()
    mailbox = store.mailbox(OWNER)
    mailbox.add_presorted(generated.messages)
    store.attach_grant(mailbox, new_grant(OWNER, "google", now, GRANT_ID))
    handle = start_emulator(port=0, store=store)
    client = nylas.Client(handle.api_key, api_uri=handle.url)

    page_times: list[float] = []
    total = 0
    cursor = None
    list_started = time.perf_counter()
    while True:
        query: dict[str, object] = {"limit": 200, "select": SELECT}
        if cursor:
            query["page_token"] = cursor
        page_started = time.perf_counter()
        page = client.messages.list(GRANT_ID, query)
        page_times.append(time.perf_counter() - page_started)
        total += len(page.data)
        cursor = page.next_cursor
        if not cursor:
            break
    list_s = time.perf_counter() - list_started
    server_ms = _server_page_median_ms(handle)
    handle.stop()

    if total != COUNT:
        raise SystemExit(f"listed {total} messages, expected {COUNT}")
    print(f"emulator_generate_20k_s: {generate_s:.3f}")
    print(f"emulator_list_page_median_ms: {statistics.median(page_times) * 1000:.1f}")
    print(f"emulator_list_msgs_per_s: {total / list_s:.0f}")
    print(f"emulator_server_page_median_ms: {server_ms:.2f}")


def _server_page_median_ms(handle: EmulatorHandle) -> float:
    """Time the server side alone (routing, filtering, JSON) for every page."""
    headers = {"authorization": f"Bearer {handle.api_key}"}
    base = f"/v3/grants/{GRANT_ID}/messages?limit=200&select={SELECT}"
    times: list[float] = []
    cursor = None
    while True:
        target = base + (f"&page_token={cursor}" if cursor else "")
        started = time.perf_counter()
        response = dispatch(handle.app, parse_request("GET", target, headers, b""))
        times.append(time.perf_counter() - started)
        cursor = json.loads(response.body).get("next_cursor")
        if not cursor:
            return statistics.median(times) * 1000


if __name__ == "__main__":
    main()
