// gocheck: an independent reference for weft-analyze, written with Go's own
// debug/elf, debug/dwarf, debug/gosym, debug/buildinfo and x86asm. For one
// binary it prints the record weft-analyze --json prints (same JSON shape,
// without the hash), for the fields and functions named on the command line,
// in a weft-analyze JSON record (-names), or in offsets/wanted.def (-wanted).
//
//	gocheck [-names REC.json] [-wanted wanted.def] [-fields a,b] [-funcs c,d]
//	        [-pclntab] BINARY
//
// Fields are "pkgpath.Type.Field" (nested: "pkgpath.Type.Field.Sub", through
// embedded structs); functions are symbol names. Function bounds come from
// .symtab when present (else, or with -pclntab, from .gopclntab via
// debug/gosym); returns are the offsets of every RET found by decoding the
// function linearly from its entry with x86asm.
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
	"os"
	"regexp"
	"sort"
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
	fmt.Fprintf(os.Stderr, "gocheck: error: "+format+"\n", args...)
	os.Exit(1)
}

// namesFromRecord takes the field and function names of a weft-analyze record.
func namesFromRecord(path string) (fields, funcs []string) {
	data, err := os.ReadFile(path)
	if err != nil {
		die("read %s: %v: pass a weft-analyze --json output", path, err)
	}
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		die("parse %s: %v: pass a weft-analyze --json output", path, err)
	}
	for n := range r.Fields {
		fields = append(fields, n)
	}
	for n := range r.Functions {
		funcs = append(funcs, n)
	}
	return
}

// namesFromWanted reads the X-macro table offsets/wanted.def: every line
// WEFT_FIELD(...) or WEFT_FUNC(...) whose first string literal is the name.
var wantedLine = regexp.MustCompile(`^\s*(WEFT_[A-Z_]+)\s*\(.*?"([^"]+)"`)

func namesFromWanted(path string) (fields, funcs []string) {
	f, err := os.Open(path)
	if err != nil {
		die("open %s: %v: pass the path of offsets/wanted.def", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := wantedLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		switch {
		case strings.Contains(m[1], "FIELD"):
			fields = append(fields, m[2])
		case strings.Contains(m[1], "FUNC"):
			funcs = append(funcs, m[2])
		}
	}
	return
}

// splitField splits "a/b/pkg.Type.F.G" into "a/b/pkg.Type" and [F G].
func splitField(name string) (string, []string, bool) {
	slash := strings.LastIndex(name, "/")
	parts := strings.Split(name[slash+1:], ".")
	if len(parts) < 3 {
		return "", nil, false
	}
	return name[:slash+1] + parts[0] + "." + parts[1], parts[2:], true
}

func stripTypedefs(t dwarf.Type) dwarf.Type {
	for {
		td, ok := t.(*dwarf.TypedefType)
		if !ok {
			return t
		}
		t = td.Type
	}
}

// fieldOffsets finds each wanted field in the DWARF struct types.
func fieldOffsets(d *dwarf.Data, names []string) map[string]field {
	byType := map[string][]string{}
	for _, n := range names {
		if typ, _, ok := splitField(n); ok {
			byType[typ] = append(byType[typ], n)
		}
	}
	out := map[string]field{}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			die("read DWARF: %v: is the binary damaged?", err)
		}
		if e == nil {
			break
		}
		if e.Tag != dwarf.TagStructType {
			if e.Tag == dwarf.TagCompileUnit {
				continue
			}
			r.SkipChildren()
			continue
		}
		name, _ := e.Val(dwarf.AttrName).(string)
		want := byType[name]
		r.SkipChildren()
		if len(want) == 0 {
			continue
		}
		t, err := d.Type(e.Offset)
		if err != nil {
			die("DWARF type %s: %v", name, err)
		}
		for _, n := range want {
			_, path, _ := splitField(n)
			off, ok := memberOffset(t, path)
			if !ok {
				continue
			}
			if prev, dup := out[n]; dup && prev.Offset != off {
				die("field %s has two offsets (%d, %d) in DWARF", n, prev.Offset, off)
			}
			out[n] = field{Offset: off, Source: "dwarf"}
		}
	}
	return out
}

func memberOffset(t dwarf.Type, path []string) (int64, bool) {
	var off int64
	for i, p := range path {
		st, ok := stripTypedefs(t).(*dwarf.StructType)
		if !ok {
			return 0, false
		}
		var f *dwarf.StructField
		for _, c := range st.Field {
			if c.Name == p {
				f = c
				break
			}
		}
		if f == nil {
			return 0, false
		}
		off += f.ByteOffset
		if i < len(path)-1 {
			t = f.Type
		}
	}
	return off, true
}

type bounds struct{ entry, size uint64 }

func symtabBounds(f *elf.File) map[string]bounds {
	syms, err := f.Symbols()
	if err != nil {
		return nil
	}
	m := map[string]bounds{}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Value != 0 {
			m[s.Name] = bounds{s.Value, s.Size}
		}
	}
	return m
}

func pclntabBounds(f *elf.File) map[string]bounds {
	pcln := f.Section(".gopclntab")
	text := f.Section(".text")
	if text == nil {
		die("no .text section: not a Go binary")
	}
	var data []byte
	var err error
	if pcln != nil {
		data, err = pcln.Data()
	} else {
		// PIE: no .gopclntab section; the table lies between the
		// runtime.pclntab and runtime.epclntab symbols.
		pcln, data, err = symbolRange(f, "runtime.pclntab", "runtime.epclntab")
	}
	if err != nil {
		die("read .gopclntab: %v", err)
	}
	var symdata []byte
	if s := f.Section(".gosymtab"); s != nil {
		symdata, _ = s.Data()
	}
	tab, err := gosym.NewTable(symdata, gosym.NewLineTable(data, textStart(f, pcln, data, text.Addr)))
	if err != nil {
		die("parse .gopclntab: %v", err)
	}
	m := map[string]bounds{}
	// An ABI wrapper (symbol "f.abi0") bears the plain name "f" in
	// .gopclntab; it follows the function it wraps, so keep the first.
	for _, fn := range tab.Funcs {
		if _, dup := m[fn.Name]; !dup {
			m[fn.Name] = bounds{fn.Entry, fn.End - fn.Entry}
		}
	}
	return m
}

// symbolRange reads the bytes between two symbols, and a section standing for
// them whose Addr is the start.
func symbolRange(f *elf.File, start, end string) (*elf.Section, []byte, error) {
	syms, err := f.Symbols()
	if err != nil {
		return nil, nil, fmt.Errorf("no .gopclntab section and no symbols: %v", err)
	}
	var a, b uint64
	for _, s := range syms {
		switch s.Name {
		case start:
			a = s.Value
		case end:
			b = s.Value
		}
	}
	if a == 0 || b <= a {
		return nil, nil, fmt.Errorf("no .gopclntab section and no %s symbol", start)
	}
	for _, s := range f.Sections {
		if s.Type == elf.SHT_PROGBITS && a >= s.Addr && b <= s.Addr+s.Size {
			data := make([]byte, b-a)
			if _, err := s.ReadAt(data, int64(a-s.Addr)); err != nil {
				return nil, nil, err
			}
			return &elf.Section{SectionHeader: elf.SectionHeader{Addr: a}}, data, nil
		}
	}
	return nil, nil, fmt.Errorf("%s is in no section", start)
}

// textStart is the address pclntab's function entries are relative to: the
// header's textStart (Go 1.18 to 1.25; in a PIE, the addend of the dynamic
// relocation that fills it), else the start of .text. debug/gosym takes it
// from the caller, and with external linking (cgo) it is not .text's start.
func textStart(f *elf.File, pcln *elf.Section, data []byte, text uint64) uint64 {
	if len(data) < 8+3*8 {
		return text
	}
	magic := f.ByteOrder.Uint32(data)
	if magic != 0xfffffff0 && magic != 0xfffffff1 { // go1.18, go1.20 headers
		return text
	}
	ptr := int(data[7])
	if ptr != 8 {
		return text
	}
	if v := f.ByteOrder.Uint64(data[8+2*ptr:]); v != 0 {
		return v
	}
	where := pcln.Addr + uint64(8+2*ptr)
	for _, s := range f.Sections {
		if s.Type != elf.SHT_RELA {
			continue
		}
		rela, err := s.Data()
		if err != nil {
			continue
		}
		for i := 0; i+24 <= len(rela); i += 24 {
			off := f.ByteOrder.Uint64(rela[i:])
			info := f.ByteOrder.Uint64(rela[i+8:])
			if off == where && elf.R_X86_64(info&0xffffffff) == elf.R_X86_64_RELATIVE {
				return f.ByteOrder.Uint64(rela[i+16:])
			}
		}
	}
	return text
}

// returnSites decodes [entry, entry+size) linearly and lists every RET.
func returnSites(f *elf.File, b bounds, name string) []uint64 {
	for _, s := range f.Sections {
		if s.Type != elf.SHT_PROGBITS || s.Flags&elf.SHF_EXECINSTR == 0 ||
			b.entry < s.Addr || b.entry+b.size > s.Addr+s.Size {
			continue
		}
		code := make([]byte, b.size)
		if _, err := s.ReadAt(code, int64(b.entry-s.Addr)); err != nil {
			die("read code of %s: %v", name, err)
		}
		rets := []uint64{}
		for pc := 0; pc < len(code); {
			inst, err := x86asm.Decode(code[pc:], 64)
			if err != nil || inst.Len == 0 {
				fmt.Fprintf(os.Stderr, "gocheck: warning: %s+%#x: cannot decode (%v)\n", name, pc, err)
				pc++
				continue
			}
			if inst.Op == x86asm.RET {
				rets = append(rets, uint64(pc))
			}
			pc += inst.Len
		}
		return rets
	}
	die("function %s at %#x is in no executable section", name, b.entry)
	return nil
}

func main() {
	namesFile := flag.String("names", "", "take field and function names from this weft-analyze --json record")
	wanted := flag.String("wanted", "", "take field and function names from this wanted.def")
	fieldList := flag.String("fields", "", "comma-separated field names")
	funcList := flag.String("funcs", "", "comma-separated function names")
	usePclntab := flag.Bool("pclntab", false, "take function bounds from .gopclntab even when .symtab is present")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: gocheck [-names REC.json] [-wanted wanted.def] [-fields a,b] [-funcs c,d] [-pclntab] BINARY")
		os.Exit(2)
	}
	path := flag.Arg(0)
	var fields, funcs []string
	if *namesFile != "" {
		a, b := namesFromRecord(*namesFile)
		fields, funcs = append(fields, a...), append(funcs, b...)
	}
	if *wanted != "" {
		a, b := namesFromWanted(*wanted)
		fields, funcs = append(fields, a...), append(funcs, b...)
	}
	if *fieldList != "" {
		fields = append(fields, strings.Split(*fieldList, ",")...)
	}
	if *funcList != "" {
		funcs = append(funcs, strings.Split(*funcList, ",")...)
	}

	f, err := elf.Open(path)
	if err != nil {
		die("open %s: %v: pass an ELF Go binary", path, err)
	}
	defer f.Close()
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		die("read Go build info of %s: %v: not a Go binary?", path, err)
	}
	rec := record{Path: path, GoVersion: bi.GoVersion, Modules: map[string]string{},
		Fields: map[string]field{}, Functions: map[string]function{}}
	if bi.Main.Path != "" {
		rec.Modules[bi.Main.Path] = bi.Main.Version
	}
	for _, d := range bi.Deps {
		rec.Modules[d.Path] = d.Version
	}
	rec.Stripped = f.Section(".debug_info") == nil && f.Section(".zdebug_info") == nil
	if !rec.Stripped {
		d, err := f.DWARF()
		if err != nil {
			die("read DWARF of %s: %v", path, err)
		}
		rec.Fields = fieldOffsets(d, fields)
	}
	var fb map[string]bounds
	if !*usePclntab {
		fb = symtabBounds(f)
	}
	if fb == nil {
		fb = pclntabBounds(f)
	}
	sort.Strings(funcs)
	for _, n := range funcs {
		b, ok := fb[n]
		if !ok {
			continue
		}
		rec.Functions[n] = function{Entry: fmt.Sprintf("%#x", b.entry), Size: b.size,
			Returns: returnSites(f, b, n)}
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(rec); err != nil {
		die("write JSON: %v", err)
	}
}
