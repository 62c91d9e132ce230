"""png_zlib.py: a PNG reader and writer on Python's zlib alone, for
spec/image_spec.lua to check luann.image against code that shares nothing
with libpng.

  python3 png_zlib.py decode FILE   prints "width height channels" and then
                                    every sample (rows top to bottom, pixels
                                    interleaved) as decimal numbers: 8-bit,
                                    non-interlaced gray, gray+alpha, RGB, RGBA
  python3 png_zlib.py encode FILE   writes the image described by the JSON
                                    on stdin: width, height, color_type (0 2
                                    3 4 6), bit_depth, samples (a flat list,
                                    palette indices for type 3), and
                                    optionally palette [[r,g,b]...], trns
                                    (a list), interlace (0 or 1)
"""
import json
import struct
import sys
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def chunks(data):
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body), "bad CRC in " + kind.decode()
        yield kind, body
        pos += 12 + length


def decode(path):
    data = open(path, "rb").read()
    assert data[:8] == SIGNATURE, "no PNG signature"
    idat = b""
    for kind, body in chunks(data):
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    assert depth == 8 and interlace == 0 and ctype in (0, 2, 4, 6)
    bpp = CHANNELS[ctype]
    raw = zlib.decompress(idat)
    stride = width * bpp
    out, prev = [], bytearray(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][ftype]
            line[i] = (line[i] + pred) & 255
        out.extend(line)
        prev = line
    print(width, height, bpp)
    print(" ".join(map(str, out)))


def pack_row(samples, depth):
    if depth == 8:
        return bytes(samples)
    if depth == 16:
        return b"".join(struct.pack(">H", s) for s in samples)
    out, acc, bits = bytearray(), 0, 0
    for s in samples:
        acc, bits = (acc << depth) | s, bits + depth
        if bits == 8:
            out.append(acc)
            acc, bits = 0, 0
    if bits:
        out.append(acc << (8 - bits))
    return bytes(out)


def filtered(rows, bpp):
    """Each row behind a filter byte, cycling through the five filters."""
    out, prev = bytearray(), None
    for y, row in enumerate(rows):
        prev = prev if prev is not None and len(prev) == len(row) else bytes(len(row))
        ftype = y % 5
        line = bytearray()
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][ftype]
            line.append((x - pred) & 255)
        out.append(ftype)
        out.extend(line)
        prev = row
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def encode(path, spec):
    w, h, ctype, depth = spec["width"], spec["height"], spec["color_type"], spec["bit_depth"]
    ch = CHANNELS[ctype]
    samples = spec["samples"]
    bpp = max(1, ch * depth // 8)

    def rows_of(xs, ys):
        return [pack_row([samples[(y * w + x) * ch + c] for x in xs for c in range(ch)], depth)
                for y in ys]

    if spec.get("interlace"):
        data = b""
        for x0, y0, dx, dy in ADAM7:
            xs, ys = range(x0, w, dx), range(y0, h, dy)
            if len(xs) and len(ys):
                data += filtered(rows_of(xs, ys), bpp)
    else:
        data = filtered(rows_of(range(w), range(h)), bpp)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png = SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0,
                                                 1 if spec.get("interlace") else 0))
    if "palette" in spec:
        png += chunk(b"PLTE", bytes(v for rgb in spec["palette"] for v in rgb))
    if "trns" in spec:
        if ctype == 3:
            png += chunk(b"tRNS", bytes(spec["trns"]))
        else:
            png += chunk(b"tRNS", b"".join(struct.pack(">H", v) for v in spec["trns"]))
    png += chunk(b"IDAT", zlib.compress(data)) + chunk(b"IEND", b"")
    open(path, "wb").write(png)


if __name__ == "__main__":
    if sys.argv[1] == "decode":
        decode(sys.argv[2])
    else:
        encode(sys.argv[2], json.load(sys.stdin))
