"""Shrink a screenshot PNG by reducing it to a 256-colour palette (numpy + zlib only, no Pillow).

UI screenshots are mostly flat colours, so the 256 most frequent ones cover nearly every pixel;
the rest (anti-aliased edges) map to their nearest palette entry. Used for docs/screenshot.png.

    .venv/bin/python bench/png_shrink.py in.png out.png
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunks(data: bytes):  # type: ignore[no-untyped-def]
    pos = len(SIGNATURE)
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        yield kind, data[pos + 8 : pos + 8 + length]
        pos += 12 + length


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def read_png(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 pixels of an 8-bit RGB or RGBA, non-interlaced PNG."""
    data = path.read_bytes()
    assert data.startswith(SIGNATURE), "not a PNG"
    idat = b""
    for kind, body in _chunks(data):
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, "only 8-bit RGB(A), non-interlaced"
        elif kind == b"IDAT":
            idat += body
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    out = np.zeros((height, stride), dtype=np.uint8)
    prior = bytearray(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        row = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        if ftype == 1:  # Sub: running sum along the row
            arr = np.frombuffer(bytes(row), dtype=np.uint8).reshape(width, bpp).astype(np.uint32)
            row = bytearray((np.cumsum(arr, axis=0) % 256).astype(np.uint8).tobytes())
        elif ftype == 2:  # Up
            up = np.frombuffer(bytes(row), np.uint8).astype(np.uint16) + np.frombuffer(bytes(prior), np.uint8)
            row = bytearray((up % 256).astype(np.uint8).tobytes())
        elif ftype == 3:  # Average (sequential)
            for i in range(stride):
                left = row[i - bpp] if i >= bpp else 0
                row[i] = (row[i] + ((left + prior[i]) >> 1)) & 0xFF
        elif ftype == 4:  # Paeth (sequential)
            for i in range(stride):
                left = row[i - bpp] if i >= bpp else 0
                upleft = prior[i - bpp] if i >= bpp else 0
                row[i] = (row[i] + _paeth(left, prior[i], upleft)) & 0xFF
        out[y] = np.frombuffer(bytes(row), dtype=np.uint8)
        prior = row
    return out.reshape(height, width, bpp)[:, :, :3]


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def write_palette_png(pixels: np.ndarray, path: Path, colours: int = 256) -> None:
    height, width, _ = pixels.shape
    codes = (pixels[..., 0].astype(np.uint32) << 16) | (pixels[..., 1].astype(np.uint32) << 8) | pixels[..., 2]
    uniq, inverse, counts = np.unique(codes.ravel(), return_inverse=True, return_counts=True)
    keep = uniq[np.argsort(-counts)[:colours]]
    rgb = lambda c: np.stack([(c >> 16) & 255, (c >> 8) & 255, c & 255], axis=-1).astype(np.int32)  # noqa: E731
    dist = ((rgb(uniq)[:, None, :] - rgb(keep)[None, :, :]) ** 2).sum(-1)  # (U, P)
    index = dist.argmin(1).astype(np.uint8)[inverse].reshape(height, width)
    raw = b"".join(b"\x00" + index[y].tobytes() for y in range(height))
    png = SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0))
    png += _chunk(b"PLTE", rgb(keep).astype(np.uint8).tobytes())
    png += _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")
    path.write_bytes(png)


if __name__ == "__main__":
    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    write_palette_png(read_png(src), dst)
    print(f"{src} {src.stat().st_size:,} B -> {dst} {dst.stat().st_size:,} B")
