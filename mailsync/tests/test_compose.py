"""Pure compose steps: subjects, recipients, quoting and the send request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mailsync import compose
from mailsync.compose import ComposeError, Draft
from mailsync.nylas_client import EmailName, summary_from_dict

ALEX_OWN = frozenset({"alex.morgan@acme.example.com", "alex@acme.example.com"})


def load_case(shared_dir: Path, name: str) -> dict[str, Any]:
    return dict(json.loads((shared_dir / "cases" / name).read_text()))


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Renewal terms", "Re: Renewal terms"),
        ("Re: Renewal terms", "Re: Renewal terms"),
        ("RE: re: Renewal terms", "Re: Renewal terms"),
        ("Re[2]: Renewal terms", "Re: Renewal terms"),
        ("AW: WG: Angebot", "Re: Angebot"),
        ("SV: VS: Tarjous", "Re: Tarjous"),
        ("Réf : Contrat", "Re: Contrat"),
        ("RIF: Contratto", "Re: Contratto"),
        ("Antw: Offerte", "Re: Offerte"),
        ("Odp: Umowa", "Re: Umowa"),
        ("ΑΠ: Σύμβαση", "Re: Σύμβαση"),
        ("回复\uff1a合同", "Re: 合同"),
        ("答复: 合同", "Re: 合同"),
        ("Fwd: Re: Plan", "Re: Plan"),
        ("", "Re:"),
        ("Rebate offer", "Re: Rebate offer"),
    ],
)
def test_reply_subject_has_one_prefix(subject: str, expected: str) -> None:
    assert compose.reply_subject(subject) == expected


def test_format_address_quotes_comma_name() -> None:
    entry = EmailName(name="Ortega, Maria PhD", email="maria.ortega@example.org")

    assert (
        compose.format_address(entry)
        == '"Ortega, Maria PhD" <maria.ortega@example.org>'
    )


def test_parse_recipients_keeps_quoted_comma_name() -> None:
    parsed = compose.parse_recipients(
        "to", '"Ortega, Maria" <maria.ortega@example.org>, dana@example.org'
    )

    assert [entry.email for entry in parsed] == [
        "maria.ortega@example.org",
        "dana@example.org",
    ]
    assert parsed[0].name == "Ortega, Maria"


def test_parse_recipients_names_unquoted_comma_entry() -> None:
    with pytest.raises(ComposeError) as raised:
        compose.parse_recipients("cc", "Ortega, Maria <maria.ortega@example.org>")

    assert raised.value.field == "cc"
    assert "Ortega" in str(raised.value)


def test_reply_all_leaves_out_plus_and_alias(shared_dir: Path) -> None:
    case = load_case(shared_dir, "06-plus-addressed-own-user.json")
    parent = summary_from_dict(case["nylas_messages"][1])

    to, cc = compose.reply_recipients(parent, ALEX_OWN, reply_all=True)

    expected = case["expected"]["reply_all_recipients"]
    assert [entry.email for entry in to] == expected["to"]
    assert [entry.email for entry in cc] == expected["cc"]
    everyone = {entry.email for entry in (*to, *cc)}
    assert everyone.isdisjoint(case["expected"]["reply_all_must_not_contain"])


def test_reply_to_own_message_goes_to_recipients() -> None:
    parent = summary_from_dict(
        {
            "id": "m1",
            "from": [{"email": "Alex.Morgan+crm@ACME.example.com"}],
            "to": [{"name": "Dana", "email": "dana@example.org"}],
            "cc": [{"email": "alex@acme.example.com"}, {"email": "ola@example.org"}],
        }
    )

    to, cc = compose.reply_recipients(parent, ALEX_OWN, reply_all=True)

    assert [entry.email for entry in to] == ["dana@example.org"]
    assert [entry.email for entry in cc] == ["ola@example.org"]


def test_plain_reply_prefers_reply_to() -> None:
    parent = summary_from_dict(
        {
            "id": "m1",
            "from": [{"email": "noreply@example.org"}],
            "reply_to": [{"name": "Sales", "email": "sales@example.org"}],
            "to": [{"email": "alex.morgan@acme.example.com"}],
            "cc": [{"email": "ola@example.org"}],
        }
    )

    to, cc = compose.reply_recipients(parent, ALEX_OWN, reply_all=False)

    assert [entry.email for entry in to] == ["sales@example.org"]
    assert cc == []


def test_quote_removes_scripts_and_pixels() -> None:
    parent = summary_from_dict(
        {"id": "m1", "date": 1764000000, "from": [{"name": "Dana", "email": "d@x.org"}]}
    )
    body = (
        "<p>Hi</p><script>alert(1)</script>"
        '<img src="https://tracking.us.nylas.com/o/1.gif" width="1" height="1">'
    )

    quoted = compose.quote_html(parent, body)

    assert "<blockquote" in quoted
    assert "script" not in quoted
    assert "tracking.us.nylas.com" not in quoted
    assert "Dana" in quoted


def test_case_12_send_request(shared_dir: Path) -> None:
    case = load_case(shared_dir, "12-reply-threading-headers-on-send.json")
    parent = summary_from_dict(case["parent_message"])
    action = case["user_action"]
    expected = case["expected_nylas_send_request"]["json"]
    to, cc = compose.reply_recipients(parent, ALEX_OWN, reply_all=True)
    editor_html = action["body_html"] + action["signature_html"]
    quote = compose.quote_html(parent, "<p>Can we agree the renewal?</p>")
    draft = Draft(
        to=tuple(to),
        cc=tuple(cc),
        bcc=compose.parse_recipients("bcc", ", ".join(action["bcc"])),
        subject=compose.reply_subject(parent.subject),
        body_html=compose.outgoing_body(editor_html, quote),
        reply_to_message_id=parent.id,
    )

    request = compose.build_send_request(draft, "crm-h-test")

    for key in ("reply_to_message_id", "subject", "to", "cc", "bcc"):
        assert request[key] == expected[key], key
    assert request["body"].startswith(expected["body"])
    assert request["body"].count("Alex Morgan · Acme") == 1
    assert request["body"].index("Alex Morgan") < request["body"].index("<blockquote")
    assert "alex.morgan@acme.example.com" not in json.dumps(request)
    assert "Thread-Index" not in json.dumps(request)


def test_send_request_asks_for_tracking() -> None:
    draft = Draft(
        to=(EmailName("", "dana@example.org"),),
        cc=(),
        bcc=(),
        subject="Hi",
        body_html="<p>x</p>",
    )

    request = compose.build_send_request(draft, "crm-h-1")

    assert request["tracking_options"] == {
        "opens": True,
        "thread_replies": True,
        "label": "crm-h-1",
    }
    assert "reply_to_message_id" not in request


def test_idempotency_key_follows_content() -> None:
    first = {"to": [{"email": "a@x.org"}], "body": "<p>1</p>"}
    edited = {"to": [{"email": "a@x.org"}], "body": "<p>2</p>"}

    same = compose.idempotency_key("key", first) == compose.idempotency_key(
        "key", dict(first)
    )

    assert same
    assert compose.idempotency_key("key", first) != compose.idempotency_key(
        "key", edited
    )


def test_initial_body_marks_signature() -> None:
    body = compose.initial_body("<p>-- <br>Alex</p>", include_signature=True)

    assert '<div class="crm-signature">' in body
    assert "Alex" in body


def test_initial_body_without_switch_has_no_signature() -> None:
    body = compose.initial_body("<p>-- <br>Alex</p>", include_signature=False)

    assert "Alex" not in body
