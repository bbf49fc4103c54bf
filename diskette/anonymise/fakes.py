"""Fake values of a kind (e-mail, name, phone...), the same for the same value and salt.

Each fake is derived from ``HMAC-SHA256(salt, kind + value)``: the same e-mail
becomes the same fake in every row and every fixture of a dump, so joins and
natural keys still match, while another salt gives other fakes and nobody
without the salt can go from a fake back to the value by trying candidates.

A fake for a unique field (or a field of a unique constraint) carries 64 bits of
the digest (16 hexadecimal digits, or 18 decimal ones for a phone number), so
that two values collide with a probability of about ``n² / 2⁶⁵`` for ``n``
rows: one in ten million for a million rows. Word lists are short and built in
(no dependency); addresses, phone numbers, domains and IP addresses come from
ranges reserved for examples and documentation, so a fake never reaches anyone.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import random
from collections.abc import Callable

#: The kinds of fake a rule may ask for.
KINDS = (
    "email",
    "first_name",
    "last_name",
    "name",
    "username",
    "phone",
    "address",
    "text",
    "ip",
    "hash",
    "password",
)

FIRST_NAMES = (
    "Alex", "Blake", "Casey", "Dana", "Eden", "Finley", "Gray", "Harper",
    "Indy", "Jordan", "Kai", "Lane", "Morgan", "Noel", "Oakley", "Parker",
    "Quinn", "Reese", "Sage", "Taylor", "Umber", "Val", "Wren", "Xen",
    "Yael", "Zion", "Ari", "Bay", "Cody", "Drew", "Emery", "Frankie",
)  # fmt: skip
LAST_NAMES = (
    "Archer", "Brook", "Carter", "Dale", "Ellis", "Fisher", "Garner", "Hale",
    "Irving", "Jarvis", "Keane", "Lowell", "Marsh", "Norris", "Oakes", "Pryor",
    "Quill", "Rowe", "Sloane", "Thorne", "Upton", "Vance", "Webb", "Yates",
    "Ashby", "Bishop", "Crane", "Drake", "Ember", "Frost", "Gale", "Heath",
)  # fmt: skip
STREETS = (
    "Maple", "Cedar", "Elm", "Oak", "Pine", "Birch", "Willow", "Ash",
    "Chestnut", "Juniper", "Laurel", "Hazel", "Aspen", "Alder", "Linden", "Poplar",
)  # fmt: skip
STREET_TYPES = ("Street", "Avenue", "Road", "Lane", "Way", "Close")
CITIES = (
    "Springfield", "Riverton", "Lakeside", "Fairview", "Greenville", "Madison",
    "Clinton", "Georgetown", "Salem", "Franklin", "Bristol", "Ashford",
)  # fmt: skip
WORDS = (
    "lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing",
    "elit", "sed", "do", "eiusmod", "tempor", "incididunt", "ut", "labore",
    "et", "dolore", "magna", "aliqua", "enim", "ad", "minim", "veniam", "quis",
    "nostrud", "exercitation", "ullamco", "laboris", "nisi", "aliquip", "ex",
    "ea", "commodo", "consequat", "duis", "aute", "irure", "in", "voluptate",
)  # fmt: skip
#: Reserved for examples (RFC 2606): mail sent there reaches nobody.
DOMAIN = "example.invalid"
#: Documentation ranges (RFC 5737, RFC 3849).
IPV4_RANGES = ("192.0.2.", "198.51.100.", "203.0.113.")
IPV6_NETWORK = ipaddress.IPv6Network("2001:db8::/32")
#: Hexadecimal digits a unique fake carries (64 bits), and a plain one (24).
UNIQUE_HEX, PLAIN_HEX = 16, 6

Fake = Callable[[str], str]


class FakeError(ValueError):
    """A fake of this kind cannot fit the field (its length, its protocol)."""


def digest(salt: bytes, kind: str, value: str) -> bytes:
    """``HMAC-SHA256(salt, kind + NUL + value)``: the one source of every fake."""
    message = kind.encode() + b"\0" + value.encode("utf-8", "surrogatepass")
    return hmac.digest(salt, message, "sha256")  # the one-shot C path


def _pick(words: tuple[str, ...], raw: bytes, at: int) -> str:
    return words[raw[at] % len(words)]


def _fit(body: str, tail: str, max_length: int | None) -> str:
    """``body + tail`` cut to ``max_length`` from the body, keeping the tail whole."""
    if max_length is None or len(body) + len(tail) <= max_length:
        return body + tail
    return body[: max(0, max_length - len(tail))] + tail


def make_fake(
    kind: str,
    salt: bytes,
    *,
    unique: bool = False,
    max_length: int | None = None,
    ipv4: bool = True,
    ipv6: bool = True,
) -> Fake:
    """The fake of ``kind`` for one field: a function of the value.

    ``unique`` widens the fake (64 bits of the digest) so that distinct values
    stay distinct; ``ipv4`` and ``ipv6`` say which addresses the field takes.
    Raises :class:`FakeError` when the fake cannot fit ``max_length`` whole.
    """
    width = UNIQUE_HEX if unique else PLAIN_HEX
    if kind == "ip":
        fake = _ip(salt, width, max_length, ipv4, ipv6)
    else:
        fake = _BUILDERS[kind](salt, width, max_length)
    longest = len(fake("x" * 40))
    if max_length is not None and longest > max_length:
        raise FakeError(f"needs {longest} characters, the field takes {max_length}")
    return fake


def _email(salt: bytes, width: int, max_length: int | None) -> Fake:
    tail = f"@{DOMAIN}"
    if max_length is not None and max_length < width + 1 + len(tail):
        raise FakeError(f"needs {width + 1 + len(tail)} characters at least")

    def fake(value: str) -> str:
        raw = digest(salt, "email", value)
        names = f"{_pick(FIRST_NAMES, raw, 0)}.{_pick(LAST_NAMES, raw, 1)}".lower()
        return _fit(names, f".{raw.hex()[-width:]}{tail}", max_length)

    return fake


def _word(kind: str, words: tuple[str, ...]) -> Callable[..., Fake]:
    def build(salt: bytes, width: int, max_length: int | None) -> Fake:
        def fake(value: str) -> str:
            raw = digest(salt, kind, value)
            if width == PLAIN_HEX:
                return _fit(_pick(words, raw, 0), "", max_length)
            return _fit(_pick(words, raw, 0), f"-{raw.hex()[-width:]}", max_length)

        return fake

    return build


def _name(salt: bytes, width: int, max_length: int | None) -> Fake:
    def fake(value: str) -> str:
        raw = digest(salt, "name", value)
        name = f"{_pick(FIRST_NAMES, raw, 0)} {_pick(LAST_NAMES, raw, 1)}"
        tail = f" {raw.hex()[-width:]}" if width != PLAIN_HEX else ""
        return _fit(name, tail, max_length)

    return fake


def _username(salt: bytes, width: int, max_length: int | None) -> Fake:
    # Always unique: a username is one person's (and often a natural key).
    def fake(value: str) -> str:
        return _fit(
            "user_", digest(salt, "username", value).hex()[:UNIQUE_HEX], max_length
        )

    return fake


def _phone(salt: bytes, width: int, max_length: int | None) -> Fake:
    def fake(value: str) -> str:
        raw = digest(salt, "phone", value)
        number = f"+1 555 01{raw[0] % 100:02d}"
        if width == PLAIN_HEX:
            return number
        return f"{number} x{int.from_bytes(raw[1:9], 'big') % 10**18:018d}"

    return fake


def _address(salt: bytes, width: int, max_length: int | None) -> Fake:
    def fake(value: str) -> str:
        raw = digest(salt, "address", value)
        street = (
            f"{1 + int.from_bytes(raw[:2], 'big') % 999} {_pick(STREETS, raw, 2)} "
            f"{_pick(STREET_TYPES, raw, 3)}, {_pick(CITIES, raw, 4)}"
        )
        tail = f" #{raw.hex()[-width:]}" if width != PLAIN_HEX else ""
        return _fit(street, tail, max_length)

    return fake


def _text(salt: bytes, width: int, max_length: int | None) -> Fake:
    """Words about as long as the value (a length says little), never longer."""

    def fake(value: str) -> str:
        raw = digest(salt, "text", value)
        tail = f" {raw.hex()[-width:]}" if width != PLAIN_HEX else ""
        # Seeded by the digest: the same words for the same value, on purpose.
        rng = random.Random(raw)  # noqa: S311
        words: list[str] = []
        size = -1
        target = max(len(value), 1)
        while size < target:
            word = rng.choice(WORDS)
            words.append(word)
            size += len(word) + 1
        text = " ".join(words).capitalize()[:target]
        return _fit(text, tail, max_length)

    return fake


def _ip(
    salt: bytes, width: int, max_length: int | None, ipv4: bool, ipv6: bool
) -> Fake:
    """A documentation address, of the value's family when the field takes both.

    The three IPv4 documentation networks hold 762 addresses: a unique field
    gets IPv6 ones (2⁹⁶ of them), and a unique IPv4-only field is refused.
    """
    if width != PLAIN_HEX and not ipv6:
        raise FakeError(
            "the IPv4 documentation ranges hold 762 addresses, too few for a "
            "unique field"
        )
    if not ipv4 and not ipv6:
        raise FakeError("the field takes no IP address")

    def fake(value: str) -> str:
        raw = digest(salt, "ip", value)
        if ipv4 and (not ipv6 or (":" not in value and width == PLAIN_HEX)):
            return f"{_pick(IPV4_RANGES, raw, 0)}{1 + raw[1] % 254}"
        host = int.from_bytes(raw[:12], "big")
        return str(IPV6_NETWORK[host])

    return fake


def _hash(salt: bytes, width: int, max_length: int | None) -> Fake:
    def fake(value: str) -> str:
        return digest(salt, "hash", value).hex()[: max_length or 64]

    if max_length is not None and width != PLAIN_HEX and max_length < UNIQUE_HEX:
        raise FakeError(f"needs {UNIQUE_HEX} characters at least")
    return fake


def _password(salt: bytes, width: int, max_length: int | None) -> Fake:
    """What ``make_password(None)`` writes: ``!`` and 40 letters or digits (the
    base32 of the digest, as cheap as one HMAC), which no password matches
    (``has_usable_password()`` is false)."""

    def fake(value: str) -> str:
        raw = base64.b32encode(digest(salt, "password", value)).decode("ascii")
        return "!" + raw[:40]

    return fake


#: The builders of every kind but ``ip`` (which also takes the protocols).
_BUILDERS: dict[str, Callable[[bytes, int, int | None], Fake]] = {
    "email": _email,
    "first_name": _word("first_name", FIRST_NAMES),
    "last_name": _word("last_name", LAST_NAMES),
    "name": _name,
    "username": _username,
    "phone": _phone,
    "address": _address,
    "text": _text,
    "hash": _hash,
    "password": _password,
}
