"""Request and response values shared by the router and the endpoint handlers."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]

TRUE_VALUES = {"true", "1", "yes"}
FALSE_VALUES = {"false", "0", "no"}


class ApiError(Exception):
    """An error sent to the client in the Nylas API error shape."""

    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.headers = headers or {}


class OAuthError(Exception):
    """An error sent in the OAuth shape used by /v3/connect/token and revoke."""

    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.code = code
        self.description = description


@dataclass
class Request:
    """One parsed HTTP request. Path segments are percent-decoded one by one."""

    method: str
    segments: list[str]
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        if not values:
            return None
        return values[-1]

    def params(self, name: str) -> list[str]:
        return self.query.get(name, [])

    def int_param(self, name: str) -> int | None:
        value = self.param(name)
        if value is None or value == "":
            return None
        try:
            return int(value)
        except ValueError:
            raise ApiError(
                400,
                "invalid_request_error",
                f"Query parameter {name} must be an integer, got {value!r}.",
            ) from None

    def bool_param(self, name: str) -> bool | None:
        value = self.param(name)
        if value is None or value == "":
            return None
        lowered = value.lower()
        if lowered in TRUE_VALUES:
            return True
        if lowered in FALSE_VALUES:
            return False
        raise ApiError(
            400,
            "invalid_request_error",
            f"Query parameter {name} must be true or false, got {value!r}.",
        )

    def json(self) -> Json:
        """Decode the body as a JSON object, raising a 400 ApiError otherwise."""
        if not self.body:
            return {}
        try:
            decoded = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ApiError(
                400, "invalid_request_error", f"Request body is not valid JSON: {exc}"
            ) from None
        if not isinstance(decoded, dict):
            raise ApiError(
                400, "invalid_request_error", "Request body must be a JSON object."
            )
        return decoded


@dataclass
class Response:
    """One HTTP response. The body is already encoded."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def new_request_id() -> str:
    return uuid.uuid4().hex


def dump_json(payload: Any) -> bytes:
    """Serialise compactly with raw UTF-8, as the Nylas API and SDK do."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8"
    )


def json_response(
    payload: Json, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(status, dump_json(payload), headers=headers or {})


def data_response(data: Any, status: int = 200, **extra: Any) -> Response:
    """Wrap data in the standard envelope with a fresh request_id."""
    payload: Json = {"request_id": new_request_id(), "data": data}
    payload.update(extra)
    return json_response(payload, status)


def api_error_response(error: ApiError) -> Response:
    payload = {
        "request_id": new_request_id(),
        "error": {"type": error.error_type, "message": error.message},
    }
    return json_response(payload, error.status, dict(error.headers))


def oauth_error_response(error: OAuthError) -> Response:
    payload = {
        "error": error.error,
        "error_code": error.code,
        "error_description": error.description,
        "error_uri": "https://developer.nylas.com/docs/api/errors/",
        "request_id": new_request_id(),
    }
    return json_response(payload, error.status)


def require_str(body: Json, key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise ApiError(
            400, "invalid_request_error", f"Field {key} is missing or not a string."
        )
    return value
