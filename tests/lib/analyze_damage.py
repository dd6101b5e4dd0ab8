#!/usr/bin/python3
"""Damage an ELF the way a hostile or broken file would, for weft-analyze tests.

  analyze_damage.py compress IN OUT SECTION...   SHF_COMPRESSED (zlib) copies of
                                                 the sections, appended at the end
  analyze_damage.py flip IN OUT SECTION OFFSET [MASK]  XOR one byte of a section
                                                 (default mask 0xff)
"""
import struct
import sys
import zlib

SHF_COMPRESSED = 0x800


def sections(b):
    shoff = struct.unpack_from("<Q", b, 0x28)[0]
    shnum, shstrndx = struct.unpack_from("<HH", b, 0x3c)
    strtab = struct.unpack_from("<IIQQQQIIQQ", b, shoff + 64 * shstrndx)[4]
    out = {}
    for i in range(shnum):
        at = shoff + 64 * i
        sh = list(struct.unpack_from("<IIQQQQIIQQ", b, at))
        name = b[strtab + sh[0]:b.index(b"\0", strtab + sh[0])].decode()
        out[name] = (at, sh)
    return out


def main():
    cmd, src, dst = sys.argv[1:4]
    b = bytearray(open(src, "rb").read())
    secs = sections(b)
    if cmd == "compress":
        for name in sys.argv[4:]:
            at, sh = secs[name]
            if sh[2] & SHF_COMPRESSED:
                continue
            raw = bytes(b[sh[4]:sh[4] + sh[5]])
            data = struct.pack("<IIQQ", 1, 0, len(raw), 1) + zlib.compress(raw)
            b += b"\0" * (-len(b) % 8)
            sh[4], sh[5], sh[2] = len(b), len(data), sh[2] | SHF_COMPRESSED
            b += data
            struct.pack_into("<IIQQQQIIQQ", b, at, *sh)
    elif cmd == "flip":
        name, off = sys.argv[4], int(sys.argv[5], 0)
        mask = int(sys.argv[6], 0) if len(sys.argv) > 6 else 0xff
        sh = secs[name][1]
        b[sh[4] + off] ^= mask
    else:
        raise SystemExit("usage: analyze_damage.py compress|flip ...")
    open(dst, "wb").write(b)


if __name__ == "__main__":
    main()
