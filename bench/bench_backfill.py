"""Benchmark the backfill of a 20,000-message mailbox against its floors.

Run: .venv/bin/python bench/bench_backfill.py (needs PostgreSQL on 127.0.0.1).
Prints `name: value` lines:
- sdk_listing_s: the SDK alone listing the mailbox with the backfill's query
  (the provider-side floor here);
- backfill_e2e_s: the backfill task's work, listing and storing;
- backfill_local_per_s: messages matched and stored per second, listing
  excluded;
- upsert_floor_per_s: a plain batched INSERT ... ON CONFLICT DO NOTHING of
  the same header rows on the same PostgreSQL.
"""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from typing import TYPE_CHECKING, Any

# The script runs with bench/ on sys.path, but mypy resolves bench.django_setup.
if TYPE_CHECKING:
    from bench.django_setup import REPO, setup_django
else:
    from django_setup import REPO, setup_django

setup_django()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.db import connection, transaction  # noqa: E402

import nylas  # noqa: E402

from contacts.models import Contact, Membership, Organisation  # noqa: E402
from mailsync import backfill, headers, nylas_client  # noqa: E402
from mailsync.models import EmailAccount, MessageHeader  # noqa: E402
from mailsync.upsert import concrete_column  # noqa: E402
from nylas_emulator.generate import correspondents  # noqa: E402

OWNER = "bench@acme.example.com"
GRANT = "grant-bench"
COUNT = 20_000
RUNS = 3


class EmulatorProcess:
    """The emulator in its own process, as Nylas would be: it must not share
    this process's interpreter lock with the code being measured."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.api_key = "nyk_emulator"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nylas_emulator", "--port", str(port), "--quiet",
             "--generate", f"{OWNER}:{COUNT}:85", "--grant", f"{OWNER}={GRANT}"],
            cwd=REPO,
        )  # fmt: skip
        self._wait_ready()
        settings.NYLAS_API_URI = self.url
        settings.NYLAS_API_KEY = self.api_key

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            # The server responds before its mailboxes are loaded: wait for
            # the grant, which is created last.
            request = urllib.request.Request(
                f"{self.url}/v3/grants/{GRANT}",
                headers={"Authorization": f"Bearer {self.api_key}"},
            )
            try:
                urllib.request.urlopen(request, timeout=2)
                return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("The emulator did not start within 60 s.")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def seed_account() -> EmailAccount:
    organisation = Organisation.objects.create(name="Bench", slug="bench")
    user = User.objects.create_user("bench", OWNER)
    Membership.objects.create(user=user, organisation=organisation)
    for person in correspondents():
        contact = Contact.objects.create(organisation=organisation, name=person["name"])
        contact.add_email(person["email"])
    return EmailAccount.objects.create(
        user=user, email=OWNER, nylas_grant_id=GRANT, provider="imap"
    )


def time_sdk_listing(handle: Any) -> float:
    client = nylas.Client(handle.api_key, api_uri=handle.url)
    started = time.perf_counter()
    cursor, total = "", 0
    while True:
        query: dict[str, Any] = {
            "limit": 200,
            "received_after": int(time.time()) - 90 * 86400,
            "select": nylas_client.HEADER_FIELDS,
            "fields": "include_headers",
        }
        if cursor:
            query["page_token"] = cursor
        page = client.messages.list(GRANT, query_params=query)
        total += len(page.data)
        cursor = page.next_cursor or ""
        if not cursor:
            break
    assert total == COUNT, total
    return time.perf_counter() - started


def time_backfill(account: EmailAccount) -> tuple[float, int]:
    """Return (end-to-end seconds, messages kept) of a backfill from scratch."""
    MessageHeader.objects.all().delete()
    state = backfill.start_backfill(account)
    state.window_end = state.window_end + timedelta(seconds=5)
    state.save()
    started = time.perf_counter()
    finished = backfill.run_backfill(account.pk)
    elapsed = time.perf_counter() - started
    assert finished is not None and finished.messages_scanned == COUNT
    return elapsed, finished.messages_kept


def list_pages(account: EmailAccount) -> list[nylas_client.MessagePage]:
    pages, cursor = [], ""
    while True:
        page = nylas_client.list_message_page(
            account.nylas_grant_id,
            received_after=int(time.time()) - 90 * 86400,
            received_before=None,
            page_token=cursor,
            limit=200,
        )
        pages.append(page)
        cursor = page.next_cursor
        if not cursor:
            return pages


def time_local(account: EmailAccount, pages: list[nylas_client.MessagePage]) -> float:
    """Messages per second matched and stored from pages already listed, into
    an empty table, one transaction per page as in the backfill."""
    MessageHeader.objects.all().delete()
    started = time.perf_counter()
    for page in pages:
        with transaction.atomic():
            headers.store_messages(account, page.messages)
    return COUNT / (time.perf_counter() - started)


def time_upsert_floor(account: EmailAccount) -> float:
    """Insert the same header rows with plain batched INSERT ON CONFLICT DO
    NOTHING into an empty copy of the table; return rows per second."""
    columns = [
        concrete_column(field)
        for field in MessageHeader._meta.concrete_fields
        if not field.primary_key
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM mailsync_messageheader")
        rows = cursor.fetchall()
        cursor.execute("DROP TABLE IF EXISTS bench_floor")
        cursor.execute(
            "CREATE TABLE bench_floor (LIKE mailsync_messageheader INCLUDING ALL)"
        )
        placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
        started = time.perf_counter()
        for start in range(0, len(rows), 200):
            batch = rows[start : start + 200]
            values = ", ".join([placeholders] * len(batch))
            flat = [value for row in batch for value in row]
            cursor.execute(
                f"INSERT INTO bench_floor ({', '.join(columns)}) VALUES {values} "
                "ON CONFLICT DO NOTHING",
                flat,
            )
        elapsed = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_floor")
    return len(rows) / elapsed


def main() -> None:
    handle = EmulatorProcess()
    account = seed_account()
    listing, e2e, local, floor = [], [], [], []
    try:
        pages = list_pages(account)
        for _ in range(RUNS):
            listing.append(time_sdk_listing(handle))
            elapsed, kept = time_backfill(account)
            e2e.append(elapsed)
            local.append(time_local(account, pages))
            floor.append(time_upsert_floor(account))
    finally:
        handle.stop()

    print(f"backfill_messages: {COUNT}")
    print(f"backfill_kept: {kept}")
    print(f"sdk_listing_s: {statistics.median(listing):.2f}")
    print(f"backfill_e2e_s: {statistics.median(e2e):.2f}")
    print(f"backfill_local_per_s: {statistics.median(local):.0f}")
    print(f"upsert_floor_per_s: {statistics.median(floor):.0f}")
    print(
        "backfill_e2e_over_listing: "
        f"{statistics.median(e2e) / statistics.median(listing):.2f}"
    )
    print(
        "backfill_local_over_upsert_floor: "
        f"{statistics.median(local) / statistics.median(floor):.2f}"
    )


if __name__ == "__main__":
    main()
