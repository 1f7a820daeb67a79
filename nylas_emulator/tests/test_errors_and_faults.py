"""Bad input and injected faults: always the Nylas error shape, never a traceback."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import nylas
import pytest
import requests
from nylas.models.errors import NylasApiError

from nylas_emulator.server import EmulatorHandle

from .conftest import ALEX_GRANT, control

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def raw_call(
    handle: EmulatorHandle,
    method: str,
    path: str,
    body: bytes | None = None,
    key: str | None = None,
) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        handle.url + path,
        data=body,
        method=method,
        headers={
            "Authorization": f"Bearer {key or handle.api_key}",
            "Content-Type": "application/json",
        },
    )
    try:
        with _OPENER.open(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error_type"),
    [
        ("GET", "/v3/grants/nope/messages", None, 404, "not_found_error"),
        (
            "GET",
            f"/v3/grants/{ALEX_GRANT}/messages?limit=abc",
            None,
            400,
            "invalid_request_error",
        ),
        (
            "GET",
            f"/v3/grants/{ALEX_GRANT}/messages?limit=500",
            None,
            400,
            "invalid_request_error",
        ),
        (
            "GET",
            f"/v3/grants/{ALEX_GRANT}/messages?unread=maybe",
            None,
            400,
            "invalid_request_error",
        ),
        (
            "GET",
            f"/v3/grants/{ALEX_GRANT}/messages?page_token=%%%",
            None,
            400,
            "invalid_request_error",
        ),
        (
            "PUT",
            f"/v3/grants/{ALEX_GRANT}/messages/x",
            b"{not json",
            400,
            "invalid_request_error",
        ),
        (
            "POST",
            f"/v3/grants/{ALEX_GRANT}/messages/send",
            b"[1]",
            400,
            "invalid_request_error",
        ),
        ("GET", "/v3/nothing/here", None, 404, "not_found_error"),
        ("GET", "/v3/webhooks/wh_missing", None, 404, "not_found_error"),
    ],
)
def test_bad_request_gets_error_shape(
    two_mailboxes: EmulatorHandle,
    method: str,
    path: str,
    body: bytes | None,
    status: int,
    error_type: str,
) -> None:
    got_status, payload = raw_call(two_mailboxes, method, path, body)
    assert got_status == status
    assert payload["error"]["type"] == error_type  # type: ignore[index]
    assert payload["request_id"]


def test_wrong_api_key_is_401(two_mailboxes: EmulatorHandle) -> None:
    status, payload = raw_call(
        two_mailboxes, "GET", f"/v3/grants/{ALEX_GRANT}", key="wrong"
    )
    assert status == 401
    assert payload["error"]["type"] == "unauthorized"  # type: ignore[index]


def test_wrong_api_key_through_sdk(two_mailboxes: EmulatorHandle) -> None:
    client = nylas.Client("wrong", api_uri=two_mailboxes.url)
    with pytest.raises(NylasApiError) as caught:
        client.grants.find(ALEX_GRANT)
    assert caught.value.status_code == 401


def test_handler_crash_gives_500_shape(
    two_mailboxes: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nylas_emulator import messages

    def explode(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(messages, "render_message", explode)
    status, payload = raw_call(
        two_mailboxes, "GET", f"/v3/grants/{ALEX_GRANT}/messages"
    )
    assert status == 500
    assert payload["error"]["type"] == "internal_error"  # type: ignore[index]
    assert "boom" not in json.dumps(payload)


def test_rate_limit_sets_retry_after(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    control(
        two_mailboxes,
        "POST",
        "/_emulator/faults",
        {"kind": "rate_limit", "count": 1, "retry_after": 7},
    )
    with pytest.raises(NylasApiError) as caught:
        client.messages.list(ALEX_GRANT)
    assert caught.value.status_code == 429
    assert caught.value.headers["Retry-After"] == "7"
    assert client.messages.list(ALEX_GRANT).data


def test_rate_limit_respects_grant_filter(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    control(
        two_mailboxes,
        "POST",
        "/_emulator/faults",
        {"kind": "rate_limit", "count": 1, "grant_id": "grant-priya-0002"},
    )
    assert client.messages.list(ALEX_GRANT).data
    with pytest.raises(NylasApiError):
        client.messages.list("grant-priya-0002")


def test_server_error_body_is_html(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    control(
        two_mailboxes,
        "POST",
        "/_emulator/faults",
        {"kind": "server_error", "status": 502, "count": 1},
    )
    with pytest.raises(requests.exceptions.JSONDecodeError):
        client.messages.list(ALEX_GRANT)


def test_path_filter_limits_fault(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    control(
        two_mailboxes,
        "POST",
        "/_emulator/faults",
        {"kind": "server_error", "status": 503, "count": 1, "path": "/messages/send"},
    )
    assert client.messages.list(ALEX_GRANT).data
    with pytest.raises(requests.exceptions.JSONDecodeError):
        client.messages.send(
            ALEX_GRANT, {"to": [{"email": "a@b.example"}], "body": "x"}
        )


def test_slow_fault_delays_response(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    control(
        two_mailboxes,
        "POST",
        "/_emulator/faults",
        {"kind": "slow", "seconds": 0.3, "count": 1},
    )
    started = time.monotonic()
    client.messages.list(ALEX_GRANT, {"limit": 1})
    assert time.monotonic() - started >= 0.3


def test_cleared_faults_stop(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    control(
        two_mailboxes, "POST", "/_emulator/faults", {"kind": "rate_limit", "count": 5}
    )
    control(two_mailboxes, "DELETE", "/_emulator/faults")
    assert client.messages.list(ALEX_GRANT).data


def test_unknown_fault_kind_rejected(two_mailboxes: EmulatorHandle) -> None:
    reply = control(two_mailboxes, "POST", "/_emulator/faults", {"kind": "meteor"})
    assert reply["error"]["type"] == "invalid_request_error"
