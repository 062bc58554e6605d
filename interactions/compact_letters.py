"""Compact letters (issue 13): an entry's letter stored as what differs from its Word template.

A letter made from a Word template shares most of its package with it (styles, theme, fonts,
settings: ~38 KB of the demo template), and the renderer copies those parts unchanged
(wordtemplates.PreparedTemplate.package). So a letter is stored as:

    MAGIC, a 4-byte big-endian length, the zlib-compressed JSON manifest, then the payloads

The manifest lists the letter's zip members in their order: a member whose bytes are the same
as the base's member of that name is its name alone (rebuilt from the base); any other member
(rendered, or one the base lacks) is `[name, date_time, method, crc, size, external_attr,
payload length]` with its compressed payload, exactly as the letter held it, in the file after
the manifest. `rebuild` writes the zip again from those members with the same zip writer as
the renderer: the same part names, in the same order, with the same bytes (for a letter the
renderer made, the very same file, byte for byte; for another zip, the container's times may
be the base's).

`compact` returns None when the letter cannot be described this way (no valid zip, an
encrypted or unusual member, a name used twice, nothing saved); then the letter is stored
whole. It checks what it built: the rebuilt zip opens and lists the letter's parts, names,
order, sizes and CRCs; only then is the compact form used.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import threading
import zipfile
import zlib
from collections import OrderedDict
from dataclasses import dataclass

from .wordtemplates import _write_zip, _ZipMember

MAGIC = b"CRM compact letter 1\n"
_LENGTH = struct.Struct(">I")
#: Parsed base documents kept per process (a delivery makes thousands of letters from one).
BASES_CACHED = 8
_COPYABLE = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


class CompactLetterError(ValueError):
    """A stored compact letter that cannot be rebuilt (a damaged file, or not the base it names)."""


@dataclass(frozen=True)
class Compacted:
    """A compact letter: `data` to store; `size` and `sha256` of the letter it rebuilds."""

    data: bytes
    size: int
    sha256: str


def _members(data: bytes) -> list[_ZipMember] | None:
    """The zip members of `data` with their compressed payloads, in order; None when they cannot
    be copied as they are (not a zip, encrypted, another compression, a name used twice)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if any(info.flag_bits & 0x1 or info.compress_type not in _COPYABLE for info in infos):
                return None
            if len({info.filename for info in infos}) != len(infos) or len(infos) >= 0xFFFF:
                return None
            return [_ZipMember.copied(data, info) for info in infos]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, struct.error, EOFError):
        return None


def _content(member: _ZipMember) -> bytes:
    if member.method == zipfile.ZIP_STORED:
        return member.payload
    return zlib.decompress(member.payload, -15)


def _same(letter: _ZipMember, base: _ZipMember) -> bool:
    """Whether the two members hold the same bytes (their payloads, else their contents)."""
    if (letter.crc, letter.size) != (base.crc, base.size):
        return False
    if (letter.method, letter.payload) == (base.method, base.payload):
        return True
    try:
        return _content(letter) == _content(base)
    except zlib.error:
        return False


class _Bases:
    """The members of base documents by storage name (names are never reused, and a base is
    read-only, so an entry never goes stale), the last BASES_CACHED used."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, dict[str, _ZipMember] | None] = OrderedDict()

    def get(self, name: str, read) -> dict[str, _ZipMember] | None:
        with self._lock:
            if name in self._cache:
                self._cache.move_to_end(name)
                return self._cache[name]
        members = _members(read())
        by_name = {member.name: member for member in members} if members is not None else None
        with self._lock:
            self._cache[name] = by_name
            while len(self._cache) > BASES_CACHED:
                self._cache.popitem(last=False)
        return by_name


_bases = _Bases()


def base_members(name: str) -> dict[str, _ZipMember] | None:
    """The members of the stored base document `name` by name (None: not a usable zip)."""
    from .storage import file_read

    return _bases.get(name, lambda: file_read(name))


def compact(letter: bytes, base: dict[str, _ZipMember] | None) -> Compacted | None:
    """`letter` as what differs from `base` (base_members), or None when it cannot be (store it
    whole then): see the module docstring."""
    if base is None:
        return None
    members = _members(letter)
    if members is None:
        return None
    manifest: list = []
    payloads: list[bytes] = []
    for member in members:
        known = base.get(member.name)
        if known is not None and _same(member, known):
            manifest.append(member.name)
            continue
        manifest.append(
            [
                member.name,
                list(member.date_time),
                member.method,
                member.crc,
                member.size,
                member.external_attr,
                len(member.payload),
            ]
        )
        payloads.append(member.payload)
    header = zlib.compress(json.dumps(manifest, separators=(",", ":"), ensure_ascii=False).encode("utf-8"), 9)
    data = b"".join([MAGIC, _LENGTH.pack(len(header)), header, *payloads])
    if len(data) >= len(letter):
        return None
    rebuilt = rebuild(data, base)
    if not _same_parts(members, rebuilt):
        return None
    return Compacted(data=data, size=len(rebuilt), sha256=hashlib.sha256(rebuilt).hexdigest())


def _same_parts(members: list[_ZipMember], rebuilt: bytes) -> bool:
    """Whether `rebuilt` opens and lists the parts of `members`: names, order, sizes, CRCs."""
    try:
        with zipfile.ZipFile(io.BytesIO(rebuilt)) as zf:
            listed = [(info.filename, info.file_size, info.CRC) for info in zf.infolist()]
    except zipfile.BadZipFile:
        return False
    return listed == [(member.name, member.size, member.crc) for member in members]


def is_compact(data: bytes) -> bool:
    return data.startswith(MAGIC)


def rebuild(data: bytes, base: dict[str, _ZipMember] | None) -> bytes:
    """The letter a compact file describes, from its base's members (base_members); raises
    CompactLetterError when the file is damaged or the base lacks a part it names."""
    if not is_compact(data):
        raise CompactLetterError("not a compact letter")
    if base is None:
        raise CompactLetterError("the base document is not a valid .docx")
    try:
        start = len(MAGIC) + _LENGTH.size
        (length,) = _LENGTH.unpack_from(data, len(MAGIC))
        manifest = json.loads(zlib.decompress(data[start : start + length]))
        position = start + length
        members = []
        for item in manifest:
            if isinstance(item, str):
                members.append(base[item])
                continue
            name, date_time, method, crc, size, external_attr, payload_length = item
            payload = data[position : position + payload_length]
            if len(payload) != payload_length:
                raise CompactLetterError("the compact letter is truncated")
            position += payload_length
            members.append(_ZipMember(name, tuple(date_time), method, crc, size, external_attr, payload))
    except CompactLetterError:
        raise
    except KeyError as exc:
        raise CompactLetterError(f"the base document has no part {exc}") from exc
    except (ValueError, TypeError, struct.error, zlib.error) as exc:
        raise CompactLetterError(f"the compact letter is damaged ({exc})") from exc
    if position != len(data):
        raise CompactLetterError("the compact letter has trailing bytes")
    return _write_zip(members)
