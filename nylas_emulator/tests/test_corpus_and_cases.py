"""Real-world mail from the shared corpus and the reduced bug-report cases."""

from __future__ import annotations

import email
import email.policy
import email.utils
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest

from nylas_emulator.mime_parse import load_path, parse_bytes

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
CASES = SHARED / "cases"
# Folders of real or realistic correspondence, per the corpus's source notes.
REALISTIC = [
    "talon",
    "php-mime-mail-parser",
    "chatwoot",
    "rails-actionmailbox",
    "django-mailbox",
]

needs_corpus = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}"
)
needs_cases = pytest.mark.skipif(
    not CASES.is_dir(), reason=f"cases not found at {CASES}"
)


def corpus_folders() -> list[str]:
    if not CORPUS.is_dir():
        return []
    return sorted(
        p.name for p in CORPUS.iterdir() if p.is_dir() and p.name != "_licenses"
    )


@needs_corpus
@pytest.mark.corpus
@pytest.mark.parametrize("folder", corpus_folders())
def test_corpus_folder_loads(folder: str) -> None:
    result = load_path(CORPUS / folder)
    assert result.records


def _decode(value: str) -> str:
    try:
        text = str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeError):
        text = value
    return " ".join(text.split())


def _raw_header_text(raw_bytes: bytes, name: str) -> list[str]:
    """Read header values straight from the bytes: UTF-8, else Latin-1."""
    lines = []
    all_lines = raw_bytes.splitlines()
    if all_lines and all_lines[0].startswith(b"From "):
        all_lines = all_lines[1:]
    for line in all_lines:
        if not re.match(rb"^([!-9;-~]+:|[ \t])", line):
            break
        lines.append(line)
    head = b"\n".join(lines)
    pattern = rb"^" + name.encode() + rb":(.*(?:\r?\n[ \t].*)*)"
    values = []
    for match in re.finditer(pattern, head, re.M | re.I):
        value = re.sub(rb"\r?\n", b"", match.group(1))
        try:
            values.append(value.decode("utf-8").strip())
        except UnicodeDecodeError:
            values.append(value.decode("latin-1").strip())
    return values


def _expected_people(raw: Any, name: str) -> list[dict[str, str]]:
    values = [str(v) for v in raw.get_all(name) or []]
    people = []
    for display, address in email.utils.getaddresses(values):
        if "@" not in address:
            continue
        person = {"email": address}
        if _decode(display):
            person = {"name": _decode(display), "email": address}
        people.append(person)
    return people


def _expected_date(raw: Any) -> int | None:
    value = raw.get("Date")
    if value is None:
        return None
    value = re.sub(r"\([^()]*\)", " ", str(value))
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def realistic_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(f for d in REALISTIC for f in (CORPUS / d).iterdir() if f.is_file())


@needs_corpus
@pytest.mark.corpus
@pytest.mark.parametrize(
    "path", realistic_files(), ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_realistic_mail_matches_independent_parse(path: Path) -> None:
    raw_bytes = path.read_bytes()
    record = parse_bytes(raw_bytes, path.name)
    raw = email.message_from_bytes(raw_bytes, policy=email.policy.compat32)
    assert record is not None
    subjects = _raw_header_text(raw_bytes, "Subject")
    assert record.subject == _decode(subjects[0] if subjects else "")
    for key, name in (("from", "From"), ("to", "To"), ("cc", "Cc")):
        assert record.participants[key] == _expected_people(raw, name), key
    expected_date = _expected_date(raw)
    if expected_date is not None:
        assert record.date == expected_date


@needs_cases
def test_case01_comma_names_stay_whole() -> None:
    record = parse_bytes((CASES / "01-comma-in-display-name.eml").read_bytes(), "01")
    assert record is not None
    assert record.participants["from"] == [
        {"name": "Ortega, Maria PhD", "email": "maria.ortega@example.org"}
    ]
    assert len(record.participants["to"]) == 2
    assert record.participants["cc"] == [
        {"name": "Support, Tier 2 (EMEA)", "email": "tier2@example.org"}
    ]


@needs_cases
def test_case01_no_participant_without_address() -> None:
    record = parse_bytes((CASES / "01-comma-in-display-name.eml").read_bytes(), "01")
    assert record is not None
    everyone = [p for people in record.participants.values() for p in people]
    assert all("@" in p["email"] for p in everyone)


@needs_cases
def test_case01_names_written_back_quoted() -> None:
    from nylas_emulator.participants import format_participant

    written = format_participant(
        {"name": "Ortega, Maria PhD", "email": "maria.ortega@example.org"}
    )
    assert written == '"Ortega, Maria PhD" <maria.ortega@example.org>'


def _inject_case_message(handle: Any, message: dict[str, Any]) -> None:
    from .conftest import control

    spec: dict[str, Any] = {
        k: message[k] for k in ("to", "cc", "bcc", "subject", "date") if k in message
    }
    if "from" in message:
        spec["from"] = message["from"]
    control(
        handle,
        "POST",
        "/_emulator/messages/inject",
        {"owner": "alex.morgan@acme.example.com", "message": spec},
    )


@needs_cases
def test_case07_missing_from_decodes(emulator: Any, client: Any) -> None:
    from .conftest import control

    case = json.loads((CASES / "07-nylas-message-without-from.json").read_text())
    control(
        emulator,
        "POST",
        "/_emulator/grants",
        {"owner": "alex.morgan@acme.example.com", "grant_id": "grant-alex-0001"},
    )
    message = dict(case["nylas_list_messages_page"]["data"][0])
    mailbox = emulator.store.mailbox("alex.morgan@acme.example.com")
    message.pop("grant_id")
    message.update(body="", created_at=message["date"], metadata={}, headers=[])
    mailbox.add(message)
    page = client.messages.list("grant-alex-0001")
    assert page.data[0].from_ is None
    assert page.data[0].id == "msg-0701"


@needs_cases
def test_case08_header_only_message_parses() -> None:
    case = json.loads(
        (CASES / "08-missing-recipients-subject-messageid.json").read_text()
    )
    record = parse_bytes(case["raw_headers_of_msg-0801"].encode(), "0801")
    assert record is not None
    assert record.subject == ""
    assert record.participants["to"] == []
    assert record.date == 1763970002


@needs_cases
def test_case08_subjectless_messages_stay_apart(emulator: Any, client: Any) -> None:
    from .conftest import control

    control(
        emulator,
        "POST",
        "/_emulator/grants",
        {"owner": "alex.morgan@acme.example.com", "grant_id": "g"},
    )
    for message in json.loads(
        (CASES / "08-missing-recipients-subject-messageid.json").read_text()
    )["nylas_messages"]:
        _inject_case_message(emulator, message)
    threads = {m.thread_id for m in client.messages.list("g").data}
    assert len(threads) == 2


def case13_lines() -> list[tuple[str, str]]:
    path = CASES / "13-date-header-timezones.txt"
    if not path.exists():
        return []
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("Date:"):
            raw, _, expected = line[len("Date:") :].partition("==>")
            pairs.append((raw.strip(), expected.split("[")[0].strip()))
    return pairs


_DATE_SCRIPT = """
import json, sys
from nylas_emulator.dates import parse_date_header
print(json.dumps([parse_date_header(v) for v in json.loads(sys.stdin.read())]))
"""


def _dates_under(zone: str, values: list[str]) -> list[int | None]:
    env = dict(os.environ, TZ=zone)
    output = subprocess.run(
        [sys.executable, "-c", _DATE_SCRIPT],
        input=json.dumps(values),
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    )
    return list(json.loads(output.stdout))


@needs_cases
def test_case13_dates_match_expected() -> None:
    pairs = case13_lines()
    results = _dates_under("UTC", [raw for raw, _ in pairs])
    for (raw, expected), result in zip(pairs, results, strict=True):
        if expected.startswith("("):
            assert result is None, raw
        else:
            iso = datetime.fromtimestamp(result, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # type: ignore[arg-type]
            assert iso == expected, raw


@needs_cases
@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Tokyo"])
def test_case13_dates_ignore_local_zone(zone: str) -> None:
    values = [raw for raw, _ in case13_lines()]
    assert _dates_under(zone, values) == _dates_under("UTC", values)


@needs_cases
def test_case13_unreadable_date_falls_back(tmp_path: Path) -> None:
    from nylas_emulator.store import Store

    (tmp_path / "a.eml").write_bytes(
        b"From: a@b.example\r\nDate: sometime last week\r\n\r\nx"
    )
    store = Store(load_time=1_700_000_000)
    store.add_records("me@x.example", load_path(tmp_path).records)
    message = next(iter(store.mailbox("me@x.example").messages.values()))
    assert message["date"] == 1_700_000_000


def test_received_header_is_date_fallback() -> None:
    raw = (
        b"Received: from a by b; Tue, 14 Oct 2025 09:05:11 +0000\r\n"
        b"From: a@b.example\r\nDate: garbage\r\n\r\nx"
    )
    record = parse_bytes(raw, "r")
    assert record is not None
    assert record.date == 1760432711


def test_group_syntax_gives_no_participant() -> None:
    record = parse_bytes(
        b"From: a@b.example\r\nTo: undisclosed-recipients:;\r\n\r\nx", "g"
    )
    assert record is not None
    assert record.participants["to"] == []


def test_encoded_word_name_is_decoded() -> None:
    raw = (
        b"From: =?utf-8?q?Zo=C3=AB_L=C3=A9?= <zoe@b.example>\r\n"
        b"Subject: =?utf-8?b?5pel5pys?=\r\n\r\nx"
    )
    record = parse_bytes(raw, "e")
    assert record is not None
    assert record.participants["from"] == [{"name": "Zoë Lé", "email": "zoe@b.example"}]
    assert record.subject == "日本"


def test_reply_joins_parent_thread(tmp_path: Path) -> None:
    from nylas_emulator.store import Store

    (tmp_path / "1.eml").write_bytes(
        b"From: a@b.example\r\nMessage-ID: <p@b>\r\n"
        b"Date: Tue, 14 Oct 2025 09:05:11 +0000\r\n\r\nx"
    )
    (tmp_path / "2.eml").write_bytes(
        b"From: me@x.example\r\nMessage-ID: <c@x>\r\nIn-Reply-To: <p@b>\r\n"
        b"References: <p@b>\r\nDate: Tue, 14 Oct 2025 10:05:11 +0000\r\n\r\ny"
    )
    (tmp_path / "3.eml").write_bytes(
        b"From: z@b.example\r\nMessage-ID: <other@b>\r\n\r\nz"
    )
    store = Store()
    store.add_records("me@x.example", load_path(tmp_path).records)
    messages = list(store.mailbox("me@x.example").messages.values())
    threads = {m["subject"] or m["snippet"]: m["thread_id"] for m in messages}
    assert threads["x"] == threads["y"]
    assert threads["z"] != threads["x"]
    assert sorted(m["folders"][0] for m in messages) == ["INBOX", "INBOX", "SENT"]
