#!/usr/bin/python3
"""Make a copy of node whose AsyncWrap::AsyncReset weft-analyze cannot read.

  node_unmatch.py SRC DST

Re-encodes AsyncReset's store of async_id_ (`movsd [rbx+0x28], xmm1`,
f2 0f 11 4b 28) as the equivalent `movlpd [rbx+0x28], xmm1` (66 0f 13 4b 28):
the program behaves the same, but the machine-code pattern the analyzer reads
the offsets from (analyzer/node.c) no longer matches, as in a node build it
does not know. Exits 1 when the instruction is not found.
"""
import struct
import subprocess
import sys

src, dst = sys.argv[1:3]
data = bytearray(open(src, "rb").read())
sym = "_ZN4node9AsyncWrap10AsyncResetEN2v85LocalINS1_6ObjectEEEdb"
addr = None
for line in subprocess.run(["nm", "-D", "--defined-only", src], capture_output=True,
                           text=True, check=True).stdout.splitlines():
    f = line.split()
    if len(f) == 3 and f[2] == sym:
        addr = int(f[0], 16)
if addr is None:
    sys.exit("no %s in %s" % (sym, src))
phoff, = struct.unpack_from("<Q", data, 0x20)
phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
off = None
for i in range(phnum):
    p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack_from("<IIQQQQ", data,
                                                                   phoff + i * phentsize)
    if p_type == 1 and p_vaddr <= addr < p_vaddr + p_filesz:
        off = addr - p_vaddr + p_offset
if off is None:
    sys.exit("AsyncReset is in no loadable segment")
at = data.find(bytes.fromhex("f20f114b28"), off, off + 256)
if at < 0:
    sys.exit("no movsd [rbx+0x28], xmm1 in AsyncReset's first 256 bytes")
data[at:at + 5] = bytes.fromhex("660f134b28")
open(dst, "wb").write(data)
