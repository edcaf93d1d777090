"""G.711 μ-law and A-law codecs in pure Python (ITU-T G.711).

The stdlib ``audioop`` module is gone in Python 3.13, so voiceagent carries its
own codec. Both directions are table driven: decoding maps each byte through a
256-entry table, encoding maps each 16-bit sample through a 65,536-entry table
built on first use. The tables follow the reference algorithm of the Sun
Microsystems ``g711.c`` that ``audioop`` itself used, so the bytes are
identical to what ``audioop.lin2ulaw`` / ``lin2alaw`` produce.
"""

from __future__ import annotations

import array
import functools
import sys
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["alaw_decode", "alaw_encode", "ulaw_decode", "ulaw_encode"]

_SEG_UEND: Final = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)
_SEG_AEND: Final = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)


def _segment(value: int, ends: tuple[int, ...]) -> int:
    for i, end in enumerate(ends):
        if value <= end:
            return i
    return len(ends)


def _linear_to_ulaw(sample: int) -> int:
    pcm = sample >> 2
    if pcm < 0:
        pcm = -pcm
        mask = 0x7F
    else:
        mask = 0xFF
    pcm = min(pcm, 8159) + (0x84 >> 2)
    seg = _segment(pcm, _SEG_UEND)
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((pcm >> (seg + 1)) & 0xF)) ^ mask


def _ulaw_to_linear(byte: int) -> int:
    u = ~byte & 0xFF
    t = ((u & 0x0F) << 3) + 0x84
    t <<= (u & 0x70) >> 4
    return (0x84 - t) if u & 0x80 else (t - 0x84)


def _linear_to_alaw(sample: int) -> int:
    pcm = sample >> 3
    if pcm >= 0:
        mask = 0xD5
    else:
        mask = 0x55
        pcm = -pcm - 1
    seg = _segment(pcm, _SEG_AEND)
    if seg >= 8:
        return 0x7F ^ mask
    aval = seg << 4
    aval |= (pcm >> 1) & 0xF if seg < 2 else (pcm >> seg) & 0xF
    return aval ^ mask


def _alaw_to_linear(byte: int) -> int:
    a = byte ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t = (t + 0x108) << (seg - 1)
    return t if a & 0x80 else -t


def _encode_table(encode: Callable[[int], int]) -> bytes:
    # Index by the sample's unsigned 16-bit pattern, so a sample s maps via s & 0xFFFF.
    return bytes(encode(i - 65536 if i >= 32768 else i) for i in range(65536))


_ULAW_DECODE: Final = array.array("h", (_ulaw_to_linear(b) for b in range(256)))
_ALAW_DECODE: Final = array.array("h", (_alaw_to_linear(b) for b in range(256)))


@functools.cache
def _ulaw_table() -> bytes:
    return _encode_table(_linear_to_ulaw)


@functools.cache
def _alaw_table() -> bytes:
    return _encode_table(_linear_to_alaw)


def _samples_unsigned(pcm16: bytes | bytearray | memoryview) -> array.array[int]:
    if len(pcm16) % 2:
        raise ValueError(f"pcm16 audio must have an even number of bytes, got {len(pcm16)}")
    samples = array.array("H")
    samples.frombytes(pcm16)
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _decode(data: bytes | bytearray | memoryview, table: array.array[int]) -> bytes:
    out = array.array("h", map(table.__getitem__, bytes(data)))
    if sys.byteorder == "big":
        out.byteswap()
    return out.tobytes()


def ulaw_encode(pcm16: bytes | bytearray | memoryview) -> bytes:
    """Encode signed 16-bit little-endian PCM to G.711 μ-law, one byte a sample."""
    return bytes(map(_ulaw_table().__getitem__, _samples_unsigned(pcm16)))


def alaw_encode(pcm16: bytes | bytearray | memoryview) -> bytes:
    """Encode signed 16-bit little-endian PCM to G.711 A-law, one byte a sample."""
    return bytes(map(_alaw_table().__getitem__, _samples_unsigned(pcm16)))


def ulaw_decode(data: bytes | bytearray | memoryview) -> bytes:
    """Decode G.711 μ-law to signed 16-bit little-endian PCM."""
    return _decode(data, _ULAW_DECODE)


def alaw_decode(data: bytes | bytearray | memoryview) -> bytes:
    """Decode G.711 A-law to signed 16-bit little-endian PCM."""
    return _decode(data, _ALAW_DECODE)
