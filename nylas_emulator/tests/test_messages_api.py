"""Message, thread and attachment endpoints driven through the real nylas SDK."""

from __future__ import annotations

from typing import Any

import nylas
import pytest
from nylas.models.errors import NylasApiError

from nylas_emulator.server import EmulatorHandle

from .conftest import ALEX, ALEX_GRANT, NOW, PRIYA, control, seed


def all_ids(client: nylas.Client, grant: str, query: dict[str, object]) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        params = dict(query, **({"page_token": cursor} if cursor else {}))
        page = client.messages.list(grant, params)
        ids.extend(m.id for m in page.data)
        cursor = page.next_cursor
        if not cursor:
            return ids


def test_list_follows_cursor_to_last_page(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    ids = all_ids(client, ALEX_GRANT, {"limit": 37})
    assert len(ids) == 300
    assert len(set(ids)) == 300


def test_list_is_newest_first(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    dates = [m.date for m in client.messages.list(ALEX_GRANT, {"limit": 200}).data]
    assert dates == sorted(dates, reverse=True)


def test_paging_survives_inserts(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    first = client.messages.list(ALEX_GRANT, {"limit": 50})
    for offset in (10, -(10**6)):
        control(
            two_mailboxes,
            "POST",
            "/_emulator/messages/inject",
            {
                "owner": ALEX,
                "message": {
                    "from": [{"email": "new@example.org"}],
                    "subject": "late",
                    "body": "x",
                    "date": NOW + offset,
                },
            },
        )
    rest = all_ids(client, ALEX_GRANT, {"limit": 50, "page_token": first.next_cursor})
    seen = [m.id for m in first.data] + rest
    assert len(seen) == len(set(seen))
    assert len(seen) == 301


def test_limit_default_is_fifty(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    assert len(client.messages.list(ALEX_GRANT).data) == 50


def test_limit_over_200_is_rejected(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    with pytest.raises(NylasApiError) as caught:
        client.messages.list(ALEX_GRANT, {"limit": 201})
    assert caught.value.status_code == 400
    assert caught.value.type == "invalid_request_error"


@pytest.mark.parametrize(
    ("query", "check"),
    [
        ({"unread": True}, lambda m: m.unread is True),
        ({"unread": False}, lambda m: m.unread is False),
        ({"starred": True}, lambda m: m.starred is True),
        ({"has_attachment": True}, lambda m: bool(m.attachments)),
        ({"in": "SENT"}, lambda m: "SENT" in m.folders),
        ({"subject": "steel"}, lambda m: "steel" in m.subject.lower()),
        ({"received_after": NOW - 5 * 86400}, lambda m: m.date >= NOW - 5 * 86400),
        ({"received_before": NOW - 5 * 86400}, lambda m: m.date < NOW - 5 * 86400),
    ],
)
def test_filter_keeps_only_matches(
    two_mailboxes: EmulatorHandle,
    client: nylas.Client,
    query: dict[str, object],
    check: object,
) -> None:
    data = client.messages.list(ALEX_GRANT, dict(query, limit=200)).data
    assert data
    assert all(check(m) for m in data)  # type: ignore[operator]


def _someone(client: nylas.Client) -> str:
    inbound = client.messages.list(ALEX_GRANT, {"in": "INBOX", "limit": 1}).data[0]
    return str(inbound.from_[0]["email"])


def test_from_filter_ignores_case(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    address = _someone(client)
    data = client.messages.list(
        ALEX_GRANT, {"from": address.upper(), "limit": 200}
    ).data
    assert data
    assert all(m.from_[0]["email"] == address for m in data)


def test_to_filter_matches_recipient(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    address = _someone(client)
    data = client.messages.list(ALEX_GRANT, {"to": address, "limit": 200}).data
    assert data
    assert all(address in [p["email"] for p in m.to] for m in data)


def test_any_email_accepts_comma_list(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    address = _someone(client)
    joined = client.messages.list(
        ALEX_GRANT, {"any_email": f"{address},nobody@x.org", "limit": 200}
    )
    repeated = client.messages.list(
        ALEX_GRANT, {"any_email": [address, "nobody@x.org"], "limit": 200}
    )
    assert [m.id for m in joined.data] == [m.id for m in repeated.data]
    assert joined.data


def test_any_email_over_25_is_rejected(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    addresses = ",".join(f"p{i}@x.org" for i in range(26))
    with pytest.raises(NylasApiError) as caught:
        client.messages.list(ALEX_GRANT, {"any_email": addresses})
    assert caught.value.status_code == 400


def test_thread_filter_returns_thread(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    thread_id = client.messages.list(ALEX_GRANT, {"limit": 1}).data[0].thread_id
    data = client.messages.list(ALEX_GRANT, {"thread_id": thread_id}).data
    assert {m.thread_id for m in data} == {thread_id}


def test_cc_and_bcc_filters_match(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    with_bcc = [
        m
        for m in client.messages.list(ALEX_GRANT, {"limit": 200, "in": "SENT"}).data
        if m.bcc
    ]
    address = with_bcc[0].bcc[0]["email"]
    assert client.messages.list(ALEX_GRANT, {"bcc": address}).data
    assert not client.messages.list(ALEX_GRANT, {"cc": "nobody@nowhere.example"}).data


def test_search_finds_subject_text(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    data = client.messages.list(ALEX_GRANT, {"search_query_native": "punch list"}).data
    assert data
    assert all("punch list" in m.subject.lower() for m in data)


def test_select_returns_only_named_keys(
    two_mailboxes: EmulatorHandle, emulator: EmulatorHandle
) -> None:
    import json
    import urllib.request

    request = urllib.request.Request(
        f"{emulator.url}/v3/grants/{ALEX_GRANT}/messages?select=id,subject&limit=3",
        headers={"Authorization": f"Bearer {emulator.api_key}"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    payload = json.loads(opener.open(request).read())
    assert {frozenset(m) for m in payload["data"]} == {frozenset({"id", "subject"})}


def test_headers_appear_only_when_requested(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    message_id = client.messages.list(ALEX_GRANT, {"limit": 1}).data[0].id
    plain = client.messages.find(ALEX_GRANT, message_id).data
    full = client.messages.find(
        ALEX_GRANT, message_id, {"fields": "include_headers"}
    ).data
    assert plain.headers is None
    assert any(h.name == "Message-ID" for h in full.headers)


def test_update_changes_only_given_fields(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    before = client.messages.list(ALEX_GRANT, {"limit": 1}).data[0]
    after = client.messages.update(ALEX_GRANT, before.id, {"starred": True}).data
    assert after.starred is True
    assert after.unread == before.unread


def test_delete_removes_message(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    message_id = client.messages.list(ALEX_GRANT, {"limit": 1}).data[0].id
    client.messages.destroy(ALEX_GRANT, message_id)
    with pytest.raises(NylasApiError) as caught:
        client.messages.find(ALEX_GRANT, message_id)
    assert caught.value.status_code == 404


def test_thread_find_has_required_fields(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    thread_id = client.messages.list(ALEX_GRANT, {"limit": 1}).data[0].thread_id
    thread = client.threads.find(ALEX_GRANT, thread_id).data
    assert thread.latest_draft_or_message.id in thread.message_ids
    assert thread.has_drafts is False


def test_thread_list_pages_without_repeats(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    ids: list[str] = []
    cursor = None
    while True:
        page = client.threads.list(
            ALEX_GRANT, {"limit": 25, **({"page_token": cursor} if cursor else {})}
        )
        ids.extend(t.id for t in page.data)
        cursor = page.next_cursor
        if not cursor:
            break
    total = len({m.thread_id for m in _every_message(client)})
    assert len(ids) == len(set(ids))
    assert len(ids) == total


def _every_message(client: nylas.Client) -> list[Any]:
    messages: list[Any] = []
    cursor = None
    while True:
        page = client.messages.list(
            ALEX_GRANT, {"limit": 200, **({"page_token": cursor} if cursor else {})}
        )
        messages.extend(page.data)
        cursor = page.next_cursor
        if not cursor:
            return messages


def test_attachment_metadata_and_bytes(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    message = client.messages.list(
        ALEX_GRANT, {"has_attachment": True, "limit": 1}
    ).data[0]
    attachment = message.attachments[0]
    meta = client.attachments.find(
        ALEX_GRANT, attachment.id, {"message_id": message.id}
    ).data
    content = client.attachments.download_bytes(
        ALEX_GRANT, attachment.id, {"message_id": message.id}
    )
    assert meta.filename == "quote.pdf"
    assert content.startswith(b"%PDF")


@pytest.fixture
def imap_box(emulator: EmulatorHandle) -> EmulatorHandle:
    control(
        emulator,
        "POST",
        "/_emulator/mailboxes",
        {
            "owner": PRIYA,
            "grant_id": "g-imap",
            "id_style": "imap",
            "generate": {"count": 20, "days": 5, "seed": 3, "now": NOW},
        },
    )
    return emulator


def test_imap_ids_contain_reserved_characters(
    imap_box: EmulatorHandle, client: nylas.Client
) -> None:
    message_id = client.messages.list("g-imap", {"limit": 1}).data[0].id
    for character in "/+=<>@":
        assert character in message_id


def test_imap_id_round_trips_find_update_delete(
    imap_box: EmulatorHandle, client: nylas.Client
) -> None:
    message_id = client.messages.list("g-imap", {"limit": 1}).data[0].id
    assert client.messages.find("g-imap", message_id).data.id == message_id
    assert (
        client.messages.update("g-imap", message_id, {"unread": False}).data.unread
        is False
    )
    client.messages.destroy("g-imap", message_id)
    assert message_id not in imap_box.store.find_mailbox(PRIYA).messages  # type: ignore[union-attr]


def test_grant_path_accepts_email(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    assert client.messages.list(ALEX, {"limit": 1}).data


def test_seed_helper_creates_grant(
    emulator: EmulatorHandle, client: nylas.Client
) -> None:
    seed(emulator, "x@y.example", "g-x", 3)
    assert len(client.messages.list("g-x").data) == 3
