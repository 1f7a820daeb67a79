"""Hosted OAuth, PKCE, token errors, revocation and the grant lifecycle."""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request

import nylas
import pytest
from nylas.models.errors import NylasApiError, NylasOAuthError

from nylas_emulator.server import EmulatorHandle

from .conftest import ALEX, ALEX_GRANT, control, seed

REDIRECT = "http://127.0.0.1:9/callback"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def consent(
    url: str, decision: str = "approve", provider: str = "google"
) -> dict[str, str]:
    """Load the consent page, submit it, and return the redirect's query values."""
    page = _OPENER.open(url).read().decode()
    fields = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page))
    fields = {
        k: urllib.parse.unquote(v.replace("&amp;", "&")) for k, v in fields.items()
    }
    form = urllib.parse.urlencode(
        {**fields, "decision": decision, "chosen_provider": provider}
    )
    action = url.split("/v3/")[0] + "/v3/connect/auth/decision"
    try:
        _OPENER.open(action, data=form.encode())
    except urllib.error.HTTPError as exc:
        location = exc.headers["Location"]
    query = urllib.parse.urlparse(location).query
    return dict(urllib.parse.parse_qsl(query))


def auth_url(client: nylas.Client, login_hint: str = ALEX) -> str:
    return str(
        client.auth.url_for_oauth2(
            {
                "client_id": "cid-1",
                "redirect_uri": REDIRECT,
                "login_hint": login_hint,
                "state": "st ate/1",
            }
        )
    )


def test_consent_page_shows_login_hint(client: nylas.Client) -> None:
    page = _OPENER.open(auth_url(client)).read().decode()
    assert ALEX in page
    assert "cid-1" in page


def test_approve_redirects_with_code_and_state(client: nylas.Client) -> None:
    values = consent(auth_url(client))
    assert values["state"] == "st ate/1"
    assert values["code"]


def test_code_exchange_returns_grant(client: nylas.Client) -> None:
    code = consent(auth_url(client))["code"]
    token = client.auth.exchange_code_for_token(
        {"client_id": "cid-1", "redirect_uri": REDIRECT, "code": code}
    )
    grant = client.grants.find(token.grant_id).data
    assert grant.email == ALEX
    assert grant.grant_status == "valid"


def test_reauth_keeps_grant_id(client: nylas.Client) -> None:
    first = client.auth.exchange_code_for_token(
        {
            "client_id": "cid-1",
            "redirect_uri": REDIRECT,
            "code": consent(auth_url(client))["code"],
        }
    )
    second = client.auth.exchange_code_for_token(
        {
            "client_id": "cid-1",
            "redirect_uri": REDIRECT,
            "code": consent(auth_url(client))["code"],
        }
    )
    assert first.grant_id == second.grant_id


def test_provider_choice_is_kept(client: nylas.Client) -> None:
    code = consent(auth_url(client), provider="microsoft")["code"]
    token = client.auth.exchange_code_for_token(
        {"client_id": "cid-1", "redirect_uri": REDIRECT, "code": code}
    )
    assert token.provider == "microsoft"


@pytest.mark.parametrize(
    ("decision", "error"),
    [
        ("deny", "access_denied"),
        ("admin_consent_required", "admin_consent_required"),
        ("unsupported_provider", "unsupported_provider"),
        ("provider_not_detected", "provider_not_detected"),
    ],
)
def test_refusal_redirects_with_error(
    client: nylas.Client, decision: str, error: str
) -> None:
    values = consent(auth_url(client), decision)
    assert values["error"] == error
    assert values["error_description"]
    assert values["state"] == "st ate/1"


def test_reused_code_raises_oauth_error(client: nylas.Client) -> None:
    request = {
        "client_id": "cid-1",
        "redirect_uri": REDIRECT,
        "code": consent(auth_url(client))["code"],
    }
    client.auth.exchange_code_for_token(dict(request))
    with pytest.raises(NylasOAuthError) as caught:
        client.auth.exchange_code_for_token(dict(request))
    assert caught.value.error == "invalid_grant"
    assert caught.value.status_code == 400


def test_wrong_redirect_uri_raises_oauth_error(client: nylas.Client) -> None:
    code = consent(auth_url(client))["code"]
    with pytest.raises(NylasOAuthError) as caught:
        client.auth.exchange_code_for_token(
            {
                "client_id": "cid-1",
                "redirect_uri": "http://127.0.0.1:9/other",
                "code": code,
            }
        )
    assert caught.value.error == "invalid_grant"


def test_pkce_verifier_is_checked(client: nylas.Client) -> None:
    pkce = client.auth.url_for_oauth2_pkce(
        {"client_id": "cid-1", "redirect_uri": REDIRECT, "login_hint": ALEX}
    )
    code = consent(pkce.url)["code"]
    token = client.auth.exchange_code_for_token(
        {
            "client_id": "cid-1",
            "redirect_uri": REDIRECT,
            "code": code,
            "code_verifier": pkce.secret,
        }
    )
    assert token.grant_id


def test_pkce_wrong_verifier_raises(client: nylas.Client) -> None:
    pkce = client.auth.url_for_oauth2_pkce(
        {"client_id": "cid-1", "redirect_uri": REDIRECT, "login_hint": ALEX}
    )
    code = consent(pkce.url)["code"]
    with pytest.raises(NylasOAuthError) as caught:
        client.auth.exchange_code_for_token(
            {
                "client_id": "cid-1",
                "redirect_uri": REDIRECT,
                "code": code,
                "code_verifier": "not-the-secret",
            }
        )
    assert caught.value.error == "invalid_grant"


def test_revoke_returns_true(client: nylas.Client) -> None:
    code = consent(auth_url(client))["code"]
    token = client.auth.exchange_code_for_token(
        {"client_id": "cid-1", "redirect_uri": REDIRECT, "code": code}
    )
    assert client.auth.revoke(token.access_token) is True


def test_grant_list_filters_by_status(
    emulator: EmulatorHandle, client: nylas.Client
) -> None:
    seed(emulator, ALEX, ALEX_GRANT)
    seed(emulator, "b@x.example", "g-b")
    control(emulator, "POST", "/_emulator/grants/g-b/expire")
    invalid = client.grants.list({"grant_status": "invalid"}).data
    assert [g.id for g in invalid] == ["g-b"]


def test_grant_list_pages_by_offset(
    emulator: EmulatorHandle, client: nylas.Client
) -> None:
    for index in range(5):
        seed(emulator, f"u{index}@x.example", f"g-{index}")
    first = client.grants.list({"limit": 3}).data
    second = client.grants.list({"limit": 3, "offset": 3}).data
    assert len(first) == 3
    assert len(second) == 2


def test_grant_update_changes_settings(
    emulator: EmulatorHandle, client: nylas.Client
) -> None:
    seed(emulator, ALEX, ALEX_GRANT)
    updated = client.grants.update(ALEX_GRANT, {"settings": {"a": 1}}).data
    assert updated.settings == {"a": 1}


def test_deleted_grant_is_gone(emulator: EmulatorHandle, client: nylas.Client) -> None:
    seed(emulator, ALEX, ALEX_GRANT, 5)
    client.grants.destroy(ALEX_GRANT)
    with pytest.raises(NylasApiError) as caught:
        client.messages.list(ALEX_GRANT)
    assert caught.value.status_code == 404
    assert caught.value.type == "not_found_error"


def test_expired_grant_gets_401(emulator: EmulatorHandle, client: nylas.Client) -> None:
    seed(emulator, ALEX, ALEX_GRANT, 5)
    control(emulator, "POST", f"/_emulator/grants/{ALEX_GRANT}/expire")
    with pytest.raises(NylasApiError) as caught:
        client.messages.list(ALEX_GRANT)
    assert caught.value.status_code == 401
    assert "expired" in caught.value.type


def test_restored_grant_works_again(
    emulator: EmulatorHandle, client: nylas.Client
) -> None:
    seed(emulator, ALEX, ALEX_GRANT, 5)
    control(emulator, "POST", f"/_emulator/grants/{ALEX_GRANT}/expire")
    control(emulator, "POST", f"/_emulator/grants/{ALEX_GRANT}/restore")
    assert len(client.messages.list(ALEX_GRANT).data) == 5


def test_revoked_grant_is_not_found(
    emulator: EmulatorHandle, client: nylas.Client
) -> None:
    seed(emulator, ALEX, ALEX_GRANT, 5)
    control(emulator, "POST", f"/_emulator/grants/{ALEX_GRANT}/revoke")
    with pytest.raises(NylasApiError) as caught:
        client.grants.find(ALEX_GRANT)
    assert caught.value.status_code == 404
