from __future__ import annotations

import pytest

from contacts.addresses import (
    InvalidAddress,
    base_address,
    normalise_email,
    parse_address_list,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Dana.Whitfield@Example.ORG", "dana.whitfield@example.org"),
        ("  dana@example.org \n", "dana@example.org"),
        ("<dana@example.org>", "dana@example.org"),
        ("j@Bücher.example", "j@xn--bcher-kva.example"),
        ("j@xn--bcher-kva.example", "j@xn--bcher-kva.example"),
        ("dana@example.org.", "dana@example.org"),
    ],
)
def test_normalise_email_folds_case_space_and_idna(raw: str, expected: str) -> None:
    assert normalise_email(raw) == expected


@pytest.mark.parametrize("raw", ["", "dana", "@example.org", "dana@", "da na@x.org"])
def test_normalise_email_rejects_invalid(raw: str) -> None:
    with pytest.raises(InvalidAddress):
        normalise_email(raw)


def test_base_address_drops_plus_tag() -> None:
    assert base_address("alex.morgan+events@acme.example.com") == (
        "alex.morgan@acme.example.com"
    )


def test_quoted_comma_name_is_one_recipient() -> None:
    parsed = parse_address_list('"Ortega, Maria PhD" <maria.ortega@example.org>')

    assert len(parsed) == 1
    assert parsed[0].display_name == "Ortega, Maria PhD"
    assert parsed[0].addr_spec == "maria.ortega@example.org"


def test_unquoted_comma_name_is_an_error_naming_entry() -> None:
    with pytest.raises(InvalidAddress) as raised:
        parse_address_list("Ortega, Maria <maria.ortega@example.org>")

    assert "'Ortega'" in str(raised.value)


def test_several_recipients_split_on_commas_and_semicolons() -> None:
    parsed = parse_address_list('a@x.org; "B, C" <b@y.org>, d@z.org')

    assert [address.addr_spec for address in parsed] == [
        "a@x.org",
        "b@y.org",
        "d@z.org",
    ]


@pytest.mark.parametrize("raw", ["x@y", "a b@c.org", "Ortega", "<>", "a@@b.org"])
def test_invalid_recipients_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidAddress):
        parse_address_list(raw)


def test_non_ascii_local_part_is_named_in_error() -> None:
    with pytest.raises(InvalidAddress) as raised:
        parse_address_list('"Ünï" <ü@bücher.example>')

    assert "non-ASCII characters before the @" in str(raised.value)


def test_non_ascii_domain_is_accepted() -> None:
    parsed = parse_address_list("user@bücher.example")

    assert parsed[0].addr_spec == "user@xn--bcher-kva.example"
