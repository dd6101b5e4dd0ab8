#!/usr/bin/python3
"""Make a copy of a CPython 3.11 interpreter that says it is 3.99.

  python_unmatch.py SRC DST

Rewrites the exported Py_Version (0x030bXXXX -> 0x0363XXXX) in the copy:
the program runs the same, but weft-analyze has no layout for that version
(analyzer/python.c), so weft-http prints one line and probes nothing, as for
a Python it does not know. Exits 1 when Py_Version is not found or not 3.11.
"""
import shutil
import subprocess
import sys

src, dst = sys.argv[1:3]
shutil.copyfile(src, dst)
shutil.copymode(src, dst)
sym = [l.split() for l in subprocess.check_output(["nm", "-D", dst], text=True).splitlines()]
va = next((int(s[0], 16) for s in sym if s[-1] == "Py_Version" and len(s) == 3), None)
if va is None:
    sys.exit("no Py_Version in %s" % src)
for l in subprocess.check_output(["readelf", "-lW", dst], text=True).splitlines():
    p = l.split()
    if p and p[0] == "LOAD":
        off, vaddr, fsz = int(p[1], 16), int(p[2], 16), int(p[4], 16)
        if vaddr <= va < vaddr + fsz:
            with open(dst, "r+b") as f:
                f.seek(off + va - vaddr)
                cur = int.from_bytes(f.read(4), "little")
                if cur >> 16 != 0x030b:
                    sys.exit("%s is not CPython 3.11 (Py_Version %#x)" % (src, cur))
                f.seek(off + va - vaddr)
                f.write(((0x0363 << 16) | (cur & 0xffff)).to_bytes(4, "little"))
            sys.exit(0)
sys.exit("Py_Version is in no loadable segment of %s" % src)
