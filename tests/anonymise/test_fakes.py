"""Fakes: deterministic for a value and salt, different between salts, unique, fitting."""

from __future__ import annotations

import ipaddress

import pytest
from django.contrib.auth.hashers import is_password_usable

from diskette.anonymise.fakes import KINDS, FakeError, make_fake

SALT, OTHER = b"salt-one", b"salt-two"


@pytest.mark.parametrize("kind", KINDS)
def test_same_value_same_fake_other_salt_other_fake(kind):
    fake = make_fake(kind, SALT, unique=True, max_length=200)
    value = "ada.lovelace@example.org"
    assert fake(value) == make_fake(kind, SALT, unique=True, max_length=200)(value)
    assert fake(value) != make_fake(kind, OTHER, unique=True, max_length=200)(value)
    assert value not in fake(value)


@pytest.mark.parametrize(
    "kind", ["email", "name", "first_name", "last_name", "username", "phone", "hash"]
)
def test_unique_fakes_stay_unique(kind):
    fake = make_fake(kind, SALT, unique=True, max_length=254)
    values = {fake(f"person{n}@example.org") for n in range(20_000)}
    assert len(values) == 20_000


def test_plain_fakes_repeat_where_unique_ones_do_not():
    plain = make_fake("first_name", SALT)
    assert len({plain(str(n)) for n in range(500)}) < 100


@pytest.mark.parametrize("kind", ["email", "name", "address", "text", "hash"])
def test_fakes_respect_max_length(kind):
    fake = make_fake(kind, SALT, unique=True, max_length=40)
    assert all(len(fake("x" * n)) <= 40 for n in range(1, 300, 7))


def test_a_unique_fake_that_cannot_fit_is_refused():
    with pytest.raises(FakeError, match="characters"):
        make_fake("email", SALT, unique=True, max_length=20)


def test_emails_and_phones_use_reserved_names():
    assert make_fake("email", SALT)("a@b.c").endswith("@example.invalid")
    assert make_fake("phone", SALT)("+33 6 12 34 56 78").startswith("+1 555 01")


def test_ips_come_from_documentation_ranges():
    fake = make_fake("ip", SALT)
    documentation = [
        ipaddress.ip_network(n)
        for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
    ]
    for value in ("10.1.2.3", "8.8.8.8", "2a00:1450::1"):
        address = ipaddress.ip_address(fake(value))
        assert any(address in network for network in documentation)
    assert ":" in fake("2a00:1450::1")
    unique = make_fake("ip", SALT, unique=True)
    assert len({unique(f"10.0.{n // 256}.{n % 256}") for n in range(5000)}) == 5000
    with pytest.raises(FakeError, match="762"):
        make_fake("ip", SALT, unique=True, ipv6=False)


def test_password_is_unusable_and_never_the_hash():
    fake = make_fake("password", SALT)
    encoded = "md5$salt$0123456789abcdef"
    assert not is_password_usable(fake(encoded))
    assert encoded not in fake(encoded)


def test_text_is_about_as_long_as_the_value():
    fake = make_fake("text", SALT)
    body = "My phone number is 555-1234 and I live at 1 Real Street."
    assert len(fake(body)) == len(body)
    assert "phone" not in fake(body)
