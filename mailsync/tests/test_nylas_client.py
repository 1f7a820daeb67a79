"""The Nylas boundary against the emulator, through the real SDK."""

from __future__ import annotations

from typing import Any

import nylas
import pytest

from conftest import EmulatorControl
from mailsync import nylas_client

OWNER = "alice@acme.example.com"


@pytest.fixture
def mailbox(emulator: EmulatorControl) -> EmulatorControl:
    emulator.add_generated_mailbox(OWNER, count=120, days=30, grant_id="g-a")
    return emulator


def list_all(limit: int) -> list[nylas_client.MessageSummary]:
    found: list[nylas_client.MessageSummary] = []
    cursor = ""
    while True:
        page = nylas_client.list_message_page(
            "g-a",
            received_after=1,
            received_before=None,
            page_token=cursor,
            limit=limit,
        )
        found.extend(page.messages)
        cursor = page.next_cursor
        if not cursor:
            return found


def test_raw_listing_matches_sdk_messages_list(mailbox: EmulatorControl) -> None:
    client = nylas.Client(mailbox.handle.api_key, api_uri=mailbox.url)
    query: dict[str, Any] = {
        "limit": 200,
        "received_after": 1,
        "select": nylas_client.HEADER_FIELDS,
        "fields": "include_headers",
    }
    decoded = client.messages.list("g-a", query_params=query).data

    listed = list_all(200)

    assert [m.id for m in listed] == [m.id for m in decoded]
    assert listed == [nylas_client._summary_from_sdk(m) for m in decoded]


def test_listing_follows_cursor_without_duplicates(mailbox: EmulatorControl) -> None:
    listed = list_all(17)

    assert len(listed) == 120
    assert len({m.id for m in listed}) == 120


def test_listing_unknown_grant_asks_for_reconnect(emulator: EmulatorControl) -> None:
    with pytest.raises(nylas_client.GrantInvalidError):
        nylas_client.list_message_page(
            "missing", received_after=1, received_before=None, page_token="", limit=5
        )


def test_listing_5xx_html_is_retryable(mailbox: EmulatorControl) -> None:
    mailbox.fault(kind="server_error", status=502, count=1)

    with pytest.raises(nylas_client.NylasRetryableError):
        list_all(50)


def test_listing_429_carries_retry_after(mailbox: EmulatorControl) -> None:
    mailbox.fault(kind="rate_limit", grant_id="g-a", count=1, retry_after=9)

    with pytest.raises(nylas_client.NylasRetryableError) as raised:
        list_all(50)

    assert raised.value.retry_after == 9


def test_connection_refused_is_retryable(settings: Any) -> None:
    settings.NYLAS_API_URI = "http://127.0.0.1:9"

    with pytest.raises(nylas_client.NylasRetryableError):
        nylas_client.list_message_page(
            "g", received_after=1, received_before=None, page_token="", limit=5
        )


def test_message_id_with_path_characters_round_trips(emulator: EmulatorControl) -> None:
    from conftest import put_emulator_message

    emulator.add_grant(OWNER, "g-a")
    odd_id = "<a/b+c=d?e#f@example.org>/../x"
    put_emulator_message(
        emulator,
        OWNER,
        {"id": odd_id, "grant_id": "g-a", "thread_id": "t", "subject": "Odd",
         "from": [{"email": "x@example.org"}], "to": [{"email": OWNER}],
         "date": 1764590000},
    )  # fmt: skip

    found = nylas_client.find_message_summary("g-a", odd_id)

    assert found.id == odd_id
    assert found.subject == "Odd"
