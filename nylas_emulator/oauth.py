"""Hosted OAuth: consent page, code exchange (with PKCE) and token revocation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import time
import urllib.parse
from typing import Any

from .app import App
from .http_types import OAuthError, Request, Response, json_response, new_request_id
from .ids import random_hex
from .store import new_grant

PROVIDERS = ("google", "microsoft", "imap")
DENIALS = {
    "deny": ("access_denied", "The user denied access to the mailbox."),
    "admin_consent_required": (
        "admin_consent_required",
        "An administrator must approve this application for the organisation.",
    ),
    "unsupported_provider": (
        "unsupported_provider",
        "The email provider of this account is not supported.",
    ),
    "provider_not_detected": (
        "provider_not_detected",
        "The email provider could not be detected from the address.",
    ),
}
CODE_TTL_S = 600
ACCESS_TOKEN_TTL_S = 3600
GRANT_CREATED, GRANT_UPDATED = 25012, 25014


def auth_page(app: App, request: Request, params: dict[str, str]) -> Response:
    """Render the consent page. Every query parameter is carried in hidden fields."""
    query = {key: values[-1] for key, values in request.query.items() if values}
    missing = [k for k in ("client_id", "redirect_uri") if not query.get(k)]
    if missing:
        return _html(400, f"<p>Missing required parameter: {', '.join(missing)}.</p>")

    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in query.items()
    )
    default = query.get("provider") if query.get("provider") in PROVIDERS else "google"
    options = "".join(
        f'<option value="{p}"{" selected" if p == default else ""}>{p}</option>'
        for p in PROVIDERS
    )
    buttons = "".join(
        f'<button name="decision" value="{value}">{label}</button> '
        for value, label in (
            ("approve", "Approve"),
            ("deny", "Deny"),
            ("admin_consent_required", "Admin consent required"),
            ("unsupported_provider", "Unsupported provider"),
            ("provider_not_detected", "Provider not detected"),
        )
    )
    page = (
        "<h1>Nylas emulator: connect a mailbox</h1>"
        f"<p>Application: <b>{html.escape(query['client_id'])}</b></p>"
        f"<p>Mailbox: <b>{html.escape(query.get('login_hint', '(none given)'))}</b></p>"
        '<form method="post" action="/v3/connect/auth/decision">'
        f'{hidden}<label>Provider <select name="chosen_provider">{options}</select>'
        f"</label><p>{buttons}</p></form>"
    )
    return _html(200, page)


def _html(status: int, body: str) -> Response:
    document = f"<!doctype html><html><body>{body}</body></html>"
    return Response(status, document.encode("utf-8"), "text/html; charset=utf-8")


def auth_decision(app: App, request: Request, params: dict[str, str]) -> Response:
    form = dict(urllib.parse.parse_qsl(request.body.decode("utf-8", "replace")))
    redirect_uri = form.get("redirect_uri", "")
    if not redirect_uri:
        return _html(400, "<p>Missing redirect_uri.</p>")

    decision = form.get("decision", "approve")
    if decision in DENIALS:
        error, description = DENIALS[decision]
        return _redirect(
            redirect_uri, {"error": error, "error_description": description}, form
        )

    code = _approve(app, form)
    return _redirect(redirect_uri, {"code": code}, form)


def _redirect(
    redirect_uri: str, values: dict[str, str], form: dict[str, str]
) -> Response:
    if "state" in form:
        values["state"] = form["state"]
    separator = "&" if "?" in redirect_uri else "?"
    location = redirect_uri + separator + urllib.parse.urlencode(values)
    return Response(302, b"", "text/plain", {"Location": location})


def _approve(app: App, form: dict[str, str]) -> str:
    """Create or re-validate the grant for the login_hint mailbox and issue a code."""
    owner = (form.get("login_hint") or "demo@emulator.example.com").strip().lower()
    provider = form.get("chosen_provider") or form.get("provider") or "google"
    now = app.now()
    with app.store.lock:
        mailbox = app.store.mailbox(owner)
        created = mailbox.grant is None
        if mailbox.grant is None:
            app.store.attach_grant(mailbox, new_grant(owner, provider, now))
        grant = mailbox.grant
        assert grant is not None
        grant.grant_status = "valid"
        grant.provider = provider
        grant.updated_at = now
        grant.state = form.get("state")
        if form.get("scope"):
            grant.scope = form["scope"].split()
        code = random_hex(32)
        app.store.auth_codes[code] = {
            "grant_id": grant.id,
            "redirect_uri": form.get("redirect_uri"),
            "client_id": form.get("client_id"),
            "challenge": form.get("code_challenge"),
            "method": (form.get("code_challenge_method") or "plain").lower(),
            "offline": form.get("access_type") == "offline",
            "expires": time.monotonic() + CODE_TTL_S,
        }
    if created:
        app.emit_grant("grant.created", mailbox, GRANT_CREATED)
    else:
        app.emit_grant("grant.updated", mailbox, GRANT_UPDATED)
    return code


def sdk_pkce_hash(verifier: str) -> str:
    """Hash a verifier as nylas-python 6.x does: base64 of the hex SHA-256, unpadded."""
    hex_digest = hashlib.sha256(verifier.encode("utf-8")).hexdigest()
    return base64.b64encode(hex_digest.encode("ascii")).decode("ascii").rstrip("=")


def rfc7636_hash(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def pkce_matches(challenge: str, method: str, verifier: str | None) -> bool:
    if verifier is None:
        return False
    if method == "plain":
        return hmac.compare_digest(challenge, verifier)
    candidates = (sdk_pkce_hash(verifier), rfc7636_hash(verifier))
    return any(hmac.compare_digest(challenge, c) for c in candidates)


def token(app: App, request: Request, params: dict[str, str]) -> Response:
    body = _token_body(request)
    grant_type = body.get("grant_type", "authorization_code")
    if grant_type == "refresh_token":
        return _refresh(app, body)
    if grant_type != "authorization_code":
        raise OAuthError(
            400,
            "unsupported_grant_type",
            100200,
            f"grant_type {grant_type} is not supported.",
        )

    with app.store.lock:
        entry = app.store.auth_codes.pop(str(body.get("code", "")), None)
        _check_code(entry, body)
        assert entry is not None
        mailbox = app.store.resolve_grant(entry["grant_id"])
        assert mailbox.grant is not None
        return json_response(
            _token_payload(
                app,
                mailbox.grant.id,
                mailbox.owner,
                mailbox.grant.provider,
                entry["offline"],
            )
        )


def _token_body(request: Request) -> dict[str, Any]:
    content_type = (request.header("Content-Type") or "").lower()
    if content_type.startswith("application/x-www-form-urlencoded"):
        return dict(urllib.parse.parse_qsl(request.body.decode("utf-8", "replace")))
    try:
        return request.json()
    except Exception:
        raise OAuthError(
            400, "invalid_request", 100100, "The request body is not valid JSON."
        ) from None


def _check_code(entry: dict[str, Any] | None, body: dict[str, Any]) -> None:
    if entry is None or entry["expires"] < time.monotonic():
        raise OAuthError(
            400,
            "invalid_grant",
            100241,
            "The code is unknown, expired or already used.",
        )
    if body.get("redirect_uri") != entry["redirect_uri"]:
        raise OAuthError(
            400,
            "invalid_grant",
            100242,
            "redirect_uri does not match the one used to get the code.",
        )
    challenge = entry["challenge"]
    if challenge and not pkce_matches(
        challenge, entry["method"], body.get("code_verifier")
    ):
        raise OAuthError(
            400,
            "invalid_grant",
            100243,
            "code_verifier does not match the code_challenge.",
        )


def _token_payload(
    app: App, grant_id: str, email: str, provider: str, offline: bool
) -> dict[str, Any]:
    access_token = "emu_at_" + random_hex(32)
    app.store.tokens[access_token] = grant_id
    payload: dict[str, Any] = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_TTL_S,
        "grant_id": grant_id,
        "email": email,
        "provider": provider,
        "scope": "https://www.googleapis.com/auth/gmail.modify openid",
        "id_token": "emu_id_" + random_hex(32),
        "request_id": new_request_id(),
    }
    if offline:
        refresh_token = "emu_rt_" + random_hex(32)
        app.store.tokens[refresh_token] = grant_id
        payload["refresh_token"] = refresh_token
    return payload


def _refresh(app: App, body: dict[str, Any]) -> Response:
    with app.store.lock:
        grant_id = app.store.tokens.get(str(body.get("refresh_token", "")))
        if grant_id is None or grant_id not in app.store.grants:
            raise OAuthError(
                400, "invalid_grant", 100244, "The refresh token is unknown or revoked."
            )
        mailbox = app.store.resolve_grant(grant_id)
        assert mailbox.grant is not None
        return json_response(
            _token_payload(app, grant_id, mailbox.owner, mailbox.grant.provider, False)
        )


def revoke(app: App, request: Request, params: dict[str, str]) -> Response:
    value = request.param("token")
    if not value:
        raise OAuthError(
            400, "invalid_request", 100100, "Query parameter token is required."
        )
    with app.store.lock:
        app.store.tokens.pop(value, None)
    return json_response({"request_id": new_request_id(), "success": True})
