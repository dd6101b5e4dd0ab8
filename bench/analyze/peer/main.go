// peer: the analyzer benchmark's peer. It computes weft-analyze's record for
// one Go binary the way Go-based eBPF tracers do it: debug/elf for sections and
// symbols, debug/buildinfo for versions, debug/dwarf (a Reader walk over every
// entry, d.Type for the wanted structs) for field offsets, debug/gosym for
// stripped binaries, golang.org/x/arch/x86/x86asm for RET sites, and stores
// the record as JSON in a directory (temporary file + rename), keyed by a hash
// of the file. Go's standard library has no XXH3: the key is CRC-32C
// (hash/crc32 Castagnoli, SSE4.2 accelerated, a few GB/s here) of the bytes.
//
//	peer -wanted offsets/wanted.def -db DIR BINARY
package main

import (
	"bufio"
	"debug/buildinfo"
	"debug/dwarf"
	"debug/elf"
	"debug/gosym"
	"encoding/json"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/arch/x86/x86asm"
)

type field struct {
	Offset int64  `json:"offset"`
	Source string `json:"source"`
}

type function struct {
	Entry   string   `json:"entry"`
	Size    uint64   `json:"size"`
	Returns []uint64 `json:"returns"`
}

type record struct {
	Hash      string              `json:"hash"`
	Path      string              `json:"path"`
	GoVersion string              `json:"go_version"`
	Modules   map[string]string   `json:"modules"`
	Stripped  bool                `json:"stripped"`
	Fields    map[string]field    `json:"fields"`
	Functions map[string]function `json:"functions"`
}

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "peer: error: "+format+"\n", args...)
	os.Exit(1)
}

var wantedLine = regexp.MustCompile(`^\s*WEFT_(?:GO_)?(FIELD|FUNC)\s*\(\s*"([^"]+)"`)

func readWanted(path string) (fields, funcs []string) {
	f, err := os.Open(path)
	if err != nil {
		die("open %s: %v", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := wantedLine.FindStringSubmatch(sc.Text()); m != nil {
			if m[1] == "FIELD" {
				fields = append(fields, m[2])
			} else {
				funcs = append(funcs, m[2])
			}
		}
	}
	return
}

func splitField(name string) (string, string, bool) {
	slash := strings.LastIndex(name, "/")
	parts := strings.SplitN(name[slash+1:], ".", 3)
	if len(parts) != 3 {
		return "", "", false
	}
	return name[:slash+1] + parts[0] + "." + parts[1], parts[2], true
}

func fieldOffsets(d *dwarf.Data, names []string) map[string]field {
	want := map[string]map[string]string{} // type -> member -> wanted name
	for _, n := range names {
		if t, m, ok := splitField(n); ok {
			if want[t] == nil {
				want[t] = map[string]string{}
			}
			want[t][m] = n
		}
	}
	out := map[string]field{}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			die("DWARF: %v", err)
		}
		if e == nil {
			break
		}
		if e.Tag != dwarf.TagStructType {
			if e.Tag != dwarf.TagCompileUnit && e.Children {
				r.SkipChildren()
			}
			continue
		}
		name, _ := e.Val(dwarf.AttrName).(string)
		members := want[name]
		if members == nil {
			r.SkipChildren()
			continue
		}
		t, err := d.Type(e.Offset)
		r.SkipChildren()
		if err != nil {
			continue
		}
		if st, ok := t.(*dwarf.StructType); ok {
			for _, f := range st.Field {
				if n, ok := members[f.Name]; ok {
					out[n] = field{f.ByteOffset, "dwarf"}
				}
			}
		}
	}
	return out
}

type bounds struct{ entry, size uint64 }

func funcBounds(f *elf.File, names []string) map[string]bounds {
	wanted := map[string]bool{}
	for _, n := range names {
		wanted[n] = true
	}
	m := map[string]bounds{}
	if syms, err := f.Symbols(); err == nil {
		for _, s := range syms {
			if elf.ST_TYPE(s.Info) == elf.STT_FUNC && wanted[s.Name] {
				m[s.Name] = bounds{s.Value, s.Size}
			}
		}
		return m
	}
	pcln, text := f.Section(".gopclntab"), f.Section(".text")
	if pcln == nil || text == nil {
		die("no .gopclntab")
	}
	data, err := pcln.Data()
	if err != nil {
		die("read .gopclntab: %v", err)
	}
	start := text.Addr
	if len(data) > 32 && data[7] == 8 {
		if v := f.ByteOrder.Uint64(data[24:]); v != 0 {
			start = v
		}
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, start))
	if err != nil {
		die("parse .gopclntab: %v", err)
	}
	for _, fn := range tab.Funcs {
		if _, dup := m[fn.Name]; wanted[fn.Name] && !dup {
			m[fn.Name] = bounds{fn.Entry, fn.End - fn.Entry}
		}
	}
	return m
}

func returnSites(f *elf.File, b bounds) []uint64 {
	rets := []uint64{}
	for _, s := range f.Sections {
		if s.Flags&elf.SHF_EXECINSTR == 0 || b.entry < s.Addr || b.entry+b.size > s.Addr+s.Size {
			continue
		}
		code := make([]byte, b.size)
		if _, err := s.ReadAt(code, int64(b.entry-s.Addr)); err != nil {
			return rets
		}
		for pc := 0; pc < len(code); {
			inst, err := x86asm.Decode(code[pc:], 64)
			if err != nil || inst.Len == 0 {
				pc++
				continue
			}
			if inst.Op == x86asm.RET {
				rets = append(rets, uint64(pc))
			}
			pc += inst.Len
		}
	}
	return rets
}

func main() {
	wanted := flag.String("wanted", "offsets/wanted.def", "the wanted table")
	db := flag.String("db", "", "record directory")
	flag.Parse()
	if flag.NArg() != 1 || *db == "" {
		fmt.Fprintln(os.Stderr, "usage: peer -wanted wanted.def -db DIR BINARY")
		os.Exit(2)
	}
	path := flag.Arg(0)
	fields, funcs := readWanted(*wanted)

	fh, err := os.Open(path)
	if err != nil {
		die("open %s: %v", path, err)
	}
	defer fh.Close()
	h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	if _, err := io.CopyBuffer(h, fh, make([]byte, 1<<20)); err != nil {
		die("hash %s: %v", path, err)
	}
	key := fmt.Sprintf("%08x", h.Sum32())
	if _, err := os.Stat(filepath.Join(*db, key+".json")); err == nil {
		return // cached
	}
	f, err := elf.NewFile(fh)
	if err != nil {
		die("ELF %s: %v", path, err)
	}
	bi, err := buildinfo.Read(fh)
	if err != nil {
		die("buildinfo %s: %v", path, err)
	}
	rec := record{Hash: key, Path: path, GoVersion: bi.GoVersion, Modules: map[string]string{},
		Fields: map[string]field{}, Functions: map[string]function{}}
	for _, d := range bi.Deps {
		rec.Modules[d.Path] = d.Version
	}
	if d, err := f.DWARF(); err == nil {
		rec.Fields = fieldOffsets(d, fields)
	} else {
		rec.Stripped = true
	}
	for n, b := range funcBounds(f, funcs) {
		rec.Functions[n] = function{fmt.Sprintf("%#x", b.entry), b.size, returnSites(f, b)}
	}
	data, _ := json.Marshal(rec)
	if err := os.MkdirAll(*db, 0o755); err != nil {
		die("mkdir %s: %v", *db, err)
	}
	tmp := filepath.Join(*db, key+".json.tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		die("write: %v", err)
	}
	if err := os.Rename(tmp, filepath.Join(*db, key+".json")); err != nil {
		die("rename: %v", err)
	}
}
