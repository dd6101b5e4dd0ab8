#!/usr/bin/python3
"""Make small synthetic Go-like ELF files for weft-analyze tests and its fuzz
corpus: a .text with a few functions, a .gopclntab in one of the Go header
layouts (1.16, 1.18, 1.20, 1.26) and a .go.buildinfo (inline or pointer form).

  analyze_mkelf.py LAYOUT BUILDINFO OUT.elf OUT.expect.json
LAYOUT: 116 | 118 | 120 | 126 | 126c; BUILDINFO: inline | pointer | none
126c: Go 1.26 layout with C code before Go's text (as with external linking):
only runtime.firstmoduledata (in .noptrdata) tells where Go's text starts.
"""
import json
import struct
import sys

TEXT_VA = 0x401000
RO_VA = 0x500000
RW_VA = 0x600000

# (name, code): each function ends with INT3 padding to 32 bytes.
FUNCS = [
    ("runtime.newproc1", bytes.fromhex("55" "4889e5" "31c0" "5d" "c3")),  # push; mov; xor; pop; ret
    ("net/http.serverHandler.ServeHTTP",
     bytes.fromhex("4883ec08" "85c0" "7405" "4883c408" "c3" "31c0" "4883c408" "c3")),
    ("net/http.(*persistConn).roundTrip",
     bytes.fromhex("c20800" "90" "c3")),  # ret 8; nop; ret
    ("main.main", bytes.fromhex("90c3")),
]


def pad(b, n, fill=b"\0"):
    return b + fill * ((-len(b)) % n)


def text_and_entries(c_prefix=0):
    text, entries = b"\x90" * (c_prefix - 1) + b"\xc3" if c_prefix else b"", []
    for name, code in FUNCS:
        entries.append((name, TEXT_VA + len(text), code))
        text += pad(code, 32, b"\xcc")
    return text, entries


def returns_of(code):
    # The hand-written code above: decode by known lengths.
    lens = {"55": 1, "4889e5": 3, "31c0": 2, "5d": 1, "c3": 1, "4883ec08": 4, "85c0": 2,
            "7405": 2, "4883c408": 4, "c20800": 3, "90": 1}
    h, off, rets = code.hex(), 0, []
    while h:
        for k in sorted(lens, key=len, reverse=True):
            if h.startswith(k):
                if k in ("c3", "c20800"):
                    rets.append(off)
                off += lens[k]
                h = h[len(k):]
                break
        else:
            raise SystemExit("unknown code")
    return rets


def pclntab(layout, entries, text_end, go_text=TEXT_VA):
    ps = 8
    nwords = 7 if layout in (116, 126) else 8
    hdr_size = 8 + nwords * ps
    names = b""
    nameoffs = []
    for name, _, _ in entries:
        nameoffs.append(len(names))
        names += name.encode() + b"\0"
    funcname_off = hdr_size
    pcln_off = pad(b"\0" * (hdr_size + len(names)), 8).__len__()
    n = len(entries)
    if layout == 116:
        ent = 2 * ps
        ftab_size = n * ent + ps
        funcs_at = ftab_size
        ftab = b""
        fstructs = b""
        for i, (_, va, _) in enumerate(entries):
            ftab += struct.pack("<QQ", va, funcs_at + len(fstructs))
            fstructs += struct.pack("<Qi", va, nameoffs[i]) + b"\0" * 4
        ftab += struct.pack("<Q", text_end)
    else:
        ftab_size = n * 8 + 4
        funcs_at = ftab_size
        ftab, fstructs = b"", b""
        for i, (_, va, _) in enumerate(entries):
            ftab += struct.pack("<II", va - go_text, funcs_at + len(fstructs))
            fstructs += struct.pack("<Ii", va - go_text, nameoffs[i]) + b"\0" * 8
        ftab += struct.pack("<I", text_end - go_text)
    magic = {116: 0xfffffffa, 118: 0xfffffff0, 120: 0xfffffff1, 126: 0xfffffff1}[layout]
    words = [n, 0]
    if layout in (118, 120):
        words.append(TEXT_VA)
    end = pcln_off + len(ftab) + len(fstructs)
    words += [funcname_off, end, end, end, pcln_off]
    hdr = struct.pack("<IBBBB", magic, 0, 0, 1, ps) + b"".join(struct.pack("<Q", w) for w in words)
    assert len(hdr) == hdr_size
    tab = pad(hdr + names, 8)
    assert len(tab) == pcln_off
    return tab + ftab + fstructs


def uvarint(n):
    out = b""
    while True:
        b = n & 0x7f
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def buildinfo(kind, version, modinfo):
    magic = b"\xff Go buildinf:"
    if kind == "inline":
        return pad(magic + bytes([8, 2]) + b"\0" * 16 + uvarint(len(version)) + version +
                   uvarint(len(modinfo)) + modinfo, 16)
    # pointer form: header, then two string headers, then the bytes
    base = 32
    vhdr, mhdr = RW_VA + base, RW_VA + base + 16
    vdata = RW_VA + base + 32
    mdata = vdata + len(version)
    head = magic + bytes([8, 0]) + struct.pack("<QQ", vhdr, mhdr)
    head = head.ljust(32, b"\0")
    return pad(head + struct.pack("<QQ", vdata, len(version)) + struct.pack("<QQ", mdata, len(modinfo)) +
               version + modinfo, 16)


def build(layout, bikind):
    cgo = layout == "126c"
    layout = int(str(layout).rstrip("c"))
    text, entries = text_and_entries(0x40 if cgo else 0)
    text_end = TEXT_VA + len(text)
    go_text = entries[0][1]
    tab = pclntab(layout, entries, text_end, go_text)
    version = {116: b"go1.16.15", 118: b"go1.18.10", 120: b"go1.21.13", 126: b"go1.26.0"}[layout]
    sentinel = bytes(range(0x30, 0x40))
    modinfo = (sentinel + b"path\texample.com/app\nmod\texample.com/app\t(devel)\t\n"
               b"dep\tgoogle.golang.org/grpc\tv1.33.3\th1:x=\n"
               b"dep\tgolang.org/x/net\tv0.0.1\th1:y=\n=>\tgolang.org/x/net\tv0.0.2\th1:z=\n" + sentinel)
    bi = buildinfo(bikind, version, modinfo) if bikind != "none" else b""

    # Layout: [ehdr][phdrs] pad to 0x1000, .text, .gopclntab, .go.buildinfo, .shstrtab, shdrs
    sections = [(".text", 1, 6, TEXT_VA, text), (".gopclntab", 1, 2, RO_VA, tab)]
    if bi:
        sections.append((".go.buildinfo", 1, 3, RW_VA, bi))
    if cgo:
        # runtime.firstmoduledata: pcHeader, funcnametab slice, ..., text at 176
        md = struct.pack("<QQQQ", RO_VA, RO_VA + 64, 16, 16).ljust(176, b"\0") + struct.pack("<QQ", go_text, text_end)
        sections.append((".noptrdata", 1, 3, RW_VA + 0x100000, pad(md, 64)))
    shstr = b"\0"
    name_off = {}
    for s in sections + [(".shstrtab",)]:
        name_off[s[0]] = len(shstr)
        shstr += s[0].encode() + b"\0"
    nph = len(sections)
    body = b""
    off = 0x1000
    placed = []
    for name, typ, flags, va, data in sections:
        placed.append((name, typ, flags, va, off, data))
        body += pad(data, 0x1000)
        off += len(pad(data, 0x1000))
    shstr_off = off
    body += pad(shstr, 8)
    sh_off = shstr_off + len(pad(shstr, 8))
    shnum = len(sections) + 2
    ehdr = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + b"\0" * 9, 2, 62, 1,
                       TEXT_VA, 64, sh_off, 0, 64, 56, nph, 64, shnum, shnum - 1)
    phdrs = b""
    for name, typ, flags, va, foff, data in placed:
        pf = {6: 5, 2: 4, 3: 6}[flags]  # R+X, R, R+W
        phdrs += struct.pack("<IIQQQQQQ", 1, pf, foff, va, va, len(data), len(data), 0x1000)
    head = (ehdr + phdrs).ljust(0x1000, b"\0")
    shdrs = b"\0" * 64
    for name, typ, flags, va, foff, data in placed:
        shdrs += struct.pack("<IIQQQQIIQQ", name_off[name], typ, flags, va, foff, len(data), 0, 0, 16, 0)
    shdrs += struct.pack("<IIQQQQIIQQ", name_off[".shstrtab"], 3, 0, 0, shstr_off, len(shstr), 0, 0, 1, 0)
    elf = head + body + shdrs

    funcs = {}
    for i, (name, va, code) in enumerate(entries):
        nxt = entries[i + 1][1] if i + 1 < len(entries) else text_end
        # .text is the first section: file offset 0x1000
        funcs[name] = {"entry": hex(va), "file_offset": hex(0x1000 + va - TEXT_VA),
                       "size": nxt - va, "returns": returns_of(code)}
    minor = int(version.split(b".")[1]) if bi else -1
    facts = {"go.abi.regs": int(minor >= 17), "go.maps.hmap": int(17 <= minor <= 23)} if bi else {}
    # No PT_TLS and no .symtab: a Go binary linked internally, g at -8 from
    # the thread pointer (analyzer/gotls.c).
    facts["go.tls.g"] = -8
    expect = {"go_version": version.decode() if bi else "",
              "modules": {"example.com/app": "(devel)", "google.golang.org/grpc": "v1.33.3",
                          "golang.org/x/net": "v0.0.2"} if bi else {},
              "stripped": True, "functions": funcs, "sites": {}, "facts": facts}
    return elf, expect


if __name__ == "__main__":
    layout, bikind, out, exp = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    layout = layout if layout.endswith("c") else int(layout)
    elf, expect = build(layout, bikind)
    with open(out, "wb") as f:
        f.write(elf)
    with open(exp, "w") as f:
        json.dump(expect, f, indent=1, sort_keys=True)
