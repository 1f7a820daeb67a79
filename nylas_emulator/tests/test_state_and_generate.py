"""Generated mailboxes, state save/load and the command line."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import nylas

from nylas_emulator.generate import correspondents, generate_mailbox
from nylas_emulator.server import start_emulator
from nylas_emulator.store import Store

from .conftest import ALEX, ALEX_GRANT, NOW, PRIYA, control, seed

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_generation_is_repeatable() -> None:
    first = generate_mailbox(ALEX, 500, 30, 5, NOW)
    second = generate_mailbox(ALEX, 500, 30, 5, NOW)
    assert first.messages == second.messages


def test_other_seed_changes_ids() -> None:
    first = generate_mailbox(ALEX, 50, 30, 5, NOW)
    second = generate_mailbox(ALEX, 50, 30, 6, NOW)
    assert {m["id"] for m in first.messages} != {m["id"] for m in second.messages}


def test_generated_dates_stay_in_window() -> None:
    dates = [m["date"] for m in generate_mailbox(ALEX, 2000, 30, 1, NOW).messages]
    assert min(dates) >= NOW - 30 * 86400
    assert max(dates) <= NOW


def test_generated_mail_has_variety() -> None:
    messages = generate_mailbox(ALEX, 3000, 90, 1, NOW).messages
    bodies = " ".join(m["body"] for m in messages)
    subjects = " ".join(m["subject"] for m in messages)
    assert "Sent from my iPhone" in bodies
    assert any(m["cc"] for m in messages)
    assert any(m["bcc"] for m in messages)
    assert any("no-reply" in m["from"][0]["email"] for m in messages)
    assert "日本語" in subjects or "見積もり" in subjects
    assert any(ord(c) > 0xFFFF for c in subjects)
    assert max(len(ids) for ids in _threads(messages).values()) >= 8


def _threads(messages: list[dict[str, object]]) -> dict[object, list[object]]:
    threads: dict[object, list[object]] = {}
    for message in messages:
        threads.setdefault(message["thread_id"], []).append(message["id"])
    return threads


def test_generate_20k_is_fast() -> None:
    started = time.perf_counter()
    generate_mailbox(ALEX, 20_000, 90, 1, NOW)
    assert time.perf_counter() - started < 2.0


def test_correspondents_have_companies() -> None:
    people = correspondents()
    assert all(p["company"] and "@" in p["email"] for p in people)


def test_state_round_trips_exactly(tmp_path: Path) -> None:
    handle = start_emulator(port=0, state_file=tmp_path / "state.json")
    seed(handle, ALEX, ALEX_GRANT, 200)
    seed(handle, PRIYA, "g-priya", 0)
    client = nylas.Client(handle.api_key, api_uri=handle.url)
    client.messages.send(ALEX_GRANT, {"to": [{"email": PRIYA}], "body": "é"})
    handle.stop()
    first = (tmp_path / "state.json").read_text()

    Store.load(tmp_path / "state.json").save(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text() == first


def test_restart_keeps_ids(tmp_path: Path) -> None:
    handle = start_emulator(port=0, state_file=tmp_path / "state.json")
    seed(handle, ALEX, ALEX_GRANT, 50)
    client = nylas.Client(handle.api_key, api_uri=handle.url)
    before = [m.id for m in client.messages.list(ALEX_GRANT).data]
    handle.stop()

    again = start_emulator(port=0, state_file=tmp_path / "state.json")
    client = nylas.Client(again.api_key, api_uri=again.url)
    after = [m.id for m in client.messages.list(ALEX_GRANT).data]
    again.stop()
    assert after == before


def test_save_route_needs_state_file(emulator: object) -> None:
    reply = control(emulator, "POST", "/_emulator/save")  # type: ignore[arg-type]
    assert reply["error"]["type"] == "invalid_request_error"


def test_reset_empties_store(emulator: object) -> None:
    seed(emulator, ALEX, ALEX_GRANT, 5)  # type: ignore[arg-type]
    control(emulator, "POST", "/_emulator/reset")  # type: ignore[arg-type]
    listing = control(emulator, "GET", "/_emulator/mailboxes")  # type: ignore[arg-type]
    assert listing["data"] == []


def test_help_lists_every_option() -> None:
    output = subprocess.run(
        [sys.executable, "-m", "nylas_emulator", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    ).stdout
    for option in (
        "--api-key",
        "--mailbox",
        "--generate",
        "--seed",
        "--webhook-url",
        "--webhook-secret",
        "--state-file",
        "--grant",
        "--quiet",
        "--id-style",
    ):
        assert option in output, option


def test_cli_prints_url_and_serves(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nylas_emulator",
            "--port",
            "0",
            "--quiet",
            "--generate",
            f"{ALEX}:20:5",
            "--grant",
            f"{ALEX}={ALEX_GRANT}",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        url = lines[-1].rsplit(" ", 1)[-1].strip()
        client = nylas.Client("nyk_emulator", api_uri=url)
        assert len(client.messages.list(ALEX_GRANT).data) == 20
    finally:
        process.terminate()
        process.wait(timeout=10)
