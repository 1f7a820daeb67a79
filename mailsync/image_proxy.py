"""Fetch a remote email image for the image proxy, refusing internal targets.

Every hop (the first URL and each redirect) is checked before any
connection: only http and https on ports 80 and 443, no user info, and a
host whose every resolved address is public. The connection then goes to
the address that was checked, so a second DNS answer (DNS rebinding) cannot
move it to another host. Responses are read up to MAX_IMAGE_BYTES within
TOTAL_TIMEOUT_SECONDS and returned only when they declare a raster image
type. No cookie, referrer or credential of ours is ever sent.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import re
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import SplitResult, urljoin, urlsplit

logger = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 3
CONNECT_TIMEOUT_SECONDS = 5.0
TOTAL_TIMEOUT_SECONDS = 10.0
READ_CHUNK_BYTES = 64 * 1024
ALLOWED_PORTS = frozenset({80, 443})
DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Raster types only: an SVG opened on its own would run script in our origin.
IMAGE_CONTENT_TYPES = frozenset(
    {
        "image/avif",
        "image/bmp",
        "image/gif",
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/x-icon",
        "image/vnd.microsoft.icon",
    }
)
USER_AGENT = "ConvexImageProxy/1.0"
LEGACY_IPV4 = re.compile(r"^[0-9a-fA-FxX.]+$")
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")


class ImageRejectedError(Exception):
    """The URL or the response is not allowed. The message names the rule."""


class ImageFetchError(Exception):
    """The remote server could not be reached or timed out."""


@dataclass(frozen=True)
class Target:
    """One checked hop: where to connect and what to ask for."""

    scheme: str
    host: str
    port: int
    address: str
    path: str


@dataclass(frozen=True)
class FetchedImage:
    content_type: str
    content: bytes


def fetch_image(url: str) -> FetchedImage:
    """Fetch a remote image, following at most MAX_REDIRECTS checked redirects.

    Raises ImageRejectedError for a refused URL or response and
    ImageFetchError for network failures and timeouts.
    """
    deadline = time.monotonic() + TOTAL_TIMEOUT_SECONDS
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        target = check_url(current)
        response = _request(target, deadline)
        try:
            location = _redirect_location(response)
            if location is None:
                return _read_image(response, deadline)
        finally:
            response.close()
        current = urljoin(current, location)
    raise ImageRejectedError(f"more than {MAX_REDIRECTS} redirects")


def check_url(url: str) -> Target:
    """Validate one URL and resolve its host to a checked public address.

    Raises ImageRejectedError before any connection is made.
    """
    parts = _split(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ImageRejectedError(f"scheme {scheme!r} is not http or https")
    if parts.username is not None or parts.password is not None:
        raise ImageRejectedError("URLs with user info are not allowed")

    port = _port(parts.port, scheme)
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ImageRejectedError("the URL has no host")

    address = _public_address(host, port)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme=scheme, host=host, port=port, address=address, path=path)


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url.strip())
        _ = parts.port
    except ValueError as error:
        raise ImageRejectedError(f"the URL is invalid: {error}") from error
    return parts


def _port(port: int | None, scheme: str) -> int:
    chosen = port if port is not None else DEFAULT_PORTS[scheme]
    if chosen not in ALLOWED_PORTS:
        raise ImageRejectedError(f"port {chosen} is not 80 or 443")
    return chosen


def _public_address(host: str, port: int) -> str:
    """Resolve `host` and return one address, if every address is public."""
    addresses = resolve(host, port)
    if not addresses:
        raise ImageRejectedError("the host did not resolve to any address")
    for address in addresses:
        if not is_public_address(address):
            raise ImageRejectedError(f"address {address} is not public")
    return addresses[0]


def resolve(host: str, port: int) -> list[str]:
    """Return the addresses of `host`; an IP literal resolves to itself."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    # Browsers and inet_aton also read shortened and hex IPv4 forms such as
    # "127.1", "0" or "0x7f.1". inet_aton parses them locally, without DNS.
    if LEGACY_IPV4.match(host):
        try:
            return [str(ipaddress.IPv4Address(socket.inet_aton(host)))]
        except OSError:
            pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise ImageFetchError(f"DNS lookup failed: {error}") from error
    return list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))


def is_public_address(text: str) -> bool:
    """False for private, loopback, link-local, multicast, reserved,
    unspecified and shared (CGNAT) addresses, including IPv4 addresses
    embedded in IPv6 (mapped, 6to4, Teredo, NAT64)."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return is_public_address(str(embedded))
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
    )


def _embedded_ipv4(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def open_connection(target: Target, timeout: float) -> http.client.HTTPConnection:
    """Open a connection to the checked address, never to a new lookup.

    For https the certificate is verified against the URL's host name.
    """
    sock = socket.create_connection((target.address, target.port), timeout=timeout)
    if target.scheme == "https":
        context = ssl.create_default_context()
        sock = context.wrap_socket(sock, server_hostname=target.host)
    connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    connection.sock = sock
    return connection


def _request(target: Target, deadline: float) -> http.client.HTTPResponse:
    timeout = min(CONNECT_TIMEOUT_SECONDS, _time_left(deadline))
    try:
        connection = open_connection(target, timeout)
        connection.request("GET", target.path, headers=_request_headers(target))
        return connection.getresponse()
    except (OSError, http.client.HTTPException) as error:
        raise ImageFetchError(f"request failed: {type(error).__name__}") from error


def _request_headers(target: Target) -> dict[str, str]:
    default_port = DEFAULT_PORTS[target.scheme]
    host = target.host if ":" not in target.host else f"[{target.host}]"
    if target.port != default_port:
        host = f"{host}:{target.port}"
    return {
        "Host": host,
        "User-Agent": USER_AGENT,
        "Accept": "image/avif,image/webp,image/png,image/jpeg,image/gif;q=0.9",
        "Accept-Encoding": "identity",
        "Connection": "close",
    }


def _redirect_location(response: http.client.HTTPResponse) -> str | None:
    if response.status not in REDIRECT_STATUSES:
        return None
    location = response.getheader("Location")
    if not location:
        raise ImageRejectedError(f"redirect {response.status} without a Location")
    return location


def _read_image(response: http.client.HTTPResponse, deadline: float) -> FetchedImage:
    if response.status != 200:
        raise ImageRejectedError(f"the server responded with status {response.status}")
    content_type = _content_type(response)
    declared = response.getheader("Content-Length")
    if declared and declared.isdigit() and int(declared) > MAX_IMAGE_BYTES:
        raise ImageRejectedError(f"the image is larger than {MAX_IMAGE_BYTES} bytes")
    return FetchedImage(content_type, _read_capped(response, deadline))


def _content_type(response: http.client.HTTPResponse) -> str:
    raw = response.getheader("Content-Type") or ""
    content_type = raw.split(";")[0].strip().lower()
    if content_type not in IMAGE_CONTENT_TYPES:
        raise ImageRejectedError(f"content type {content_type!r} is not a raster image")
    return content_type


def _read_capped(response: http.client.HTTPResponse, deadline: float) -> bytes:
    chunks: list[bytes] = []
    total = 0
    sock = response.fp.raw._sock if response.fp is not None else None  # type: ignore[attr-defined]
    while True:
        if sock is not None and not response.isclosed():
            sock.settimeout(_time_left(deadline))
        try:
            chunk = response.read(READ_CHUNK_BYTES)
        except (OSError, http.client.HTTPException) as error:
            raise ImageFetchError(f"reading failed: {type(error).__name__}") from error
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > MAX_IMAGE_BYTES:
            raise ImageRejectedError(
                f"the image is larger than {MAX_IMAGE_BYTES} bytes"
            )
        chunks.append(chunk)


def _time_left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise ImageFetchError(f"timed out after {TOTAL_TIMEOUT_SECONDS} seconds")
    return left
