/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Maps and globals shared by the units that are linked into one BPF object
 * (bpftool gen object out.o a.o b.o: libbpf's static linker). Each one is
 * written once, in a header, as
 *
 *	WEFT_SHARED struct { ... } name SEC(".maps");
 *	WEFT_SHARED const volatile bool flag WEFT_INIT(false);
 *
 * The unit that owns them (one per linked object, *_shared.bpf.c) includes
 * the header as it is and gets the definitions; every other unit defines
 * WEFT_LINK_EXTERN before its first include and gets extern declarations,
 * which the linker resolves to the owner's definitions (same BTF). A
 * single-file object defines nothing and owns them all.
 * Programs (SEC other than .maps) in a header belong in exactly one unit;
 * global functions in a header are WEFT_GLOBAL_FN.
 */
#ifndef WEFT_LINK_H
#define WEFT_LINK_H

#ifdef WEFT_LINK_EXTERN
#define WEFT_SHARED extern
#define WEFT_INIT(v)
#else
#define WEFT_SHARED
#define WEFT_INIT(v) = v
#endif

/*
 * A global BPF function (verified once, not at every call site) written in
 * a header that several units include: weak, so the linker keeps one copy.
 */
#define WEFT_GLOBAL_FN __attribute__((weak, noinline))

#endif /* WEFT_LINK_H */
