#!/usr/bin/python3
"""Copies of Debian's python3.11 with one more path into its Context
allocation, for the tests of weft-analyze's proof (analyzer/pyalloc.c) and
weft-http's two asyncio modes. Addresses come from objdump, read
independently of weft-analyze.

  py_patch.py SRC DST KIND

writes SRC patched into DST (executable; it still runs: the patch is in the
NOP padding after PyContext_CopyCurrent's JMP, never executed):
  jmp   a direct JMP into context_new_from_vars (a path weft can probe)
  addr  `mov eax, context_new_from_vars` (its address taken: an indirect
        path, no proof)
  call  a direct CALL of _context_alloc (a path into the allocation that is
        neither context_new_from_vars nor context_new_empty: no proof)
and prints "PAD FROM_VARS ALLOC" (hex addresses)."""
import re
import shutil
import struct
import subprocess
import sys


def dis(path, start, n):
    """[(address, mnemonic, operands)] from objdump, n bytes from start."""
    out = subprocess.check_output(["objdump", "-d", "--no-show-raw-insn", "-M", "att", path,
                                   f"--start-address={start:#x}",
                                   f"--stop-address={start + n:#x}"], text=True)
    ins = []
    for line in out.splitlines():
        m = re.match(r"\s+([0-9a-f]+):\s+(\S+)\s*(.*)", line)
        if m:
            ins.append((int(m[1], 16), m[2], m[3]))
    return ins


def dynsym(path, name):
    for line in subprocess.check_output(["nm", "-D", path], text=True).splitlines():
        p = line.split()
        if len(p) == 3 and p[2] == name:
            return int(p[0], 16)
    sys.exit(f"{path}: no {name} in .dynsym")


def fileoff(path, va):
    for line in subprocess.check_output(["readelf", "-lW", path], text=True).splitlines():
        p = line.split()
        if p and p[0] == "LOAD" and int(p[2], 16) <= va < int(p[2], 16) + int(p[4], 16):
            return int(p[1], 16) + va - int(p[2], 16)
    sys.exit(f"{va:#x} in no LOAD segment")


def sites(path):
    """(padding after CopyCurrent's JMP, its length, context_new_from_vars, _context_alloc)"""
    cc = dis(path, dynsym(path, "PyContext_CopyCurrent"), 48)
    j = next(i for i, x in enumerate(cc) if x[1] == "jmp")
    from_vars = int(cc[j][2].split()[0], 16)
    pad, nxt = cc[j + 1], cc[j + 2]
    if not pad[1].startswith("nop") or nxt[0] - pad[0] < 5:
        sys.exit(f"no padding of 5 bytes after the JMP at {cc[j][0]:#x}")
    call = next(x for x in dis(path, from_vars, 32) if x[1] == "call")
    return pad[0], nxt[0] - pad[0], from_vars, int(call[2].split()[0], 16)


def main():
    src, dst, kind = sys.argv[1:4]
    pad, n, from_vars, alloc = sites(src)
    if kind == "jmp":
        code = b"\xe9" + struct.pack("<i", from_vars - (pad + 5))
    elif kind == "addr":
        code = b"\xb8" + struct.pack("<I", from_vars)
    elif kind == "call":
        code = b"\xe8" + struct.pack("<i", alloc - (pad + 5))
    else:
        sys.exit(f"unknown kind {kind}")
    code += b"\x90" * (n - len(code))
    shutil.copyfile(src, dst)
    shutil.copymode(src, dst)
    with open(dst, "r+b") as f:
        f.seek(fileoff(src, pad))
        f.write(code)
    print(f"{pad:#x} {from_vars:#x} {alloc:#x}")


if __name__ == "__main__":
    main()
