"""Reads a PNG's pixels with the standard library (8-bit RGB/RGBA, not interlaced): enough to
check that a signature image holds ink where the test drew."""

from __future__ import annotations

import os
import struct
import zlib


def decode(data: bytes) -> tuple[int, int, list[list[tuple[int, ...]]]]:
    """(width, height, rows of pixels) of an 8-bit, non-interlaced RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    offset, idat, header = 8, b"", None
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        chunk = data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        offset += 12 + length
    assert header is not None, "no IHDR"
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unsupported PNG {header}"
    channels = 4 if colour == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytearray] = []
    previous = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        rows.append(line)
        previous = line
    pixels = [[tuple(row[x * channels:(x + 1) * channels]) for x in range(width)] for row in rows]
    return width, height, pixels


def dark_near(pixels: list[list[tuple[int, ...]]], x: float, y: float, radius: int = 4) -> bool:
    """Whether any pixel within `radius` of (x, y) is dark (ink on a light ground)."""
    for yy in range(max(0, int(y) - radius), min(len(pixels), int(y) + radius + 1)):
        for xx in range(max(0, int(x) - radius), min(len(pixels[0]), int(x) + radius + 1)):
            pixel = pixels[yy][xx]
            if sum(pixel[:3]) < 300 and (len(pixel) < 4 or pixel[3] > 128):
                return True
    return False


def encode(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A PNG of one colour (8-bit RGB): e.g. a practice logo for a test."""
    return encode_rows(width, height, (bytes(rgb) * width for _ in range(height)))


def encode_rows(width: int, height: int, rows, level: int = 6) -> bytes:
    """An 8-bit RGB PNG of `rows` (each `width * 3` bytes, filter type 0)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer = zlib.compressobj(level)
    idat = b"".join(packer.compress(b"\x00" + row) for row in rows) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def gradient(width: int, height: int, tint: tuple[int, int, int]) -> bytes:
    """A PNG from black to `tint`, left to right: small, and easy to tell apart."""
    row = bytes(channel * x // max(1, width - 1) for x in range(width) for channel in tint)
    return encode_rows(width, height, (row for _ in range(height)))


def noise(width: int, height: int) -> bytes:
    """A PNG of random pixels, stored uncompressed: its size is about width * height * 3, like a
    photo straight from a camera, and nothing in it compresses."""
    return encode_rows(width, height, (os.urandom(width * 3) for _ in range(height)), level=0)
