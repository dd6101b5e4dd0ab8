// SPDX-License-Identifier: BSD-2-Clause
/*
 * Node.js recognised in an ELF binary (issue 20): the exported functions
 * weft-http's Node.js probes need (bpf/net/rt_node.bpf.h; and the one this
 * file checks its reading against) and the struct offsets they read, as one offsets record with
 * `runtime node`, the version
 * ("v20.20.2") as module "node".
 *
 * Debian's node carries DWARF for its C dependencies (libuv, c-ares) but not
 * for node's own C++ classes, so:
 *   - libuv's uv_handle_s.data and uv_stream_s.io_watcher.fd come from DWARF;
 *   - AsyncWrap's async_id_ (trigger_async_id_ follows it), its env()
 *     (BaseObject::realm_, then Realm::env_) and the Environment's pointer
 *     to its async_id_fields array come from the
 *     machine code of the exported AsyncWrap::AsyncReset(Local<Object>,
 *     double, bool), whose source starts `async_id_ = execution_async_id ==
 *     kInvalidAsyncId ? env()->new_async_id() : ...; trigger_async_id_ =
 *     env()->get_default_trigger_async_id();`: new_async_id() adds 1 to
 *     async_id_fields[kAsyncIdCounter] (+16) through a pointer loaded from
 *     the Environment, and the result is stored into `this`. The exported
 *     InternalCallbackScope(AsyncWrap*, int) must load the same two ids from
 *     its AsyncWrap argument, else the fields are left out.
 * A field left out makes the injector fail closed for that binary (new
 * traces, one line saying so): nothing is probed at guessed offsets.
 */
#include <capstone/capstone.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <stdlib.h>
#include <string.h>
#include "analyze.h"
#include "internal.h"

#define NODE_FIELD(n) "node." n

static const char *const node_funcs[] = {
    "_ZN4node9AsyncWrap10AsyncResetEN2v85LocalINS1_6ObjectEEEdb",
    "_ZN4node21InternalCallbackScopeC1EPNS_9AsyncWrapEi",
    "uv_accept",
};
#define NODE_NFUNCS (sizeof(node_funcs) / sizeof(node_funcs[0]))
enum { F_RESET, F_SCOPE_WRAP, F_ACCEPT };

/* "v20.20.2" from the release URL node embeds (".../release/v20.20.2/"), or NULL. */
static char *node_version(const struct welf *w)
{
	static const char tag[] = "nodejs.org/download/release/v";
	const uint8_t *p = w->data, *end = w->data + w->size;

	while ((p = memmem(p, (size_t)(end - p), tag, sizeof(tag) - 1))) {
		const uint8_t *v = p + sizeof(tag) - 2, *q = v + 1;

		while (q < end && q - v < 32 && ((*q >= '0' && *q <= '9') || *q == '.'))
			q++;
		if (q < end && *q == '/' && q - v > 1)
			return strndup((const char *)v, (size_t)(q - v));
		p = v;
	}
	return NULL;
}

struct node_code {
	int64_t fields;	  /* Environment -> async_id_fields data pointer */
	int64_t async_id; /* AsyncWrap::async_id_ */
	int64_t realm;	  /* BaseObject::realm_ (AsyncWrap's base) */
	int64_t env;	  /* Realm::env_ */
};

/*
 * From AsyncReset's code (see top): the register a load `mov rA, [rB + E]`
 * filled, then `addsd xmm, [rA + 16]; movsd [rA + 16], xmm` (new_async_id):
 * E is the fields pointer; the first `movsd [this + D], xmm` after it is
 * async_id_, and the next store into this must be at D + 8. env() is
 * realm_->env_: rB must have been loaded as `mov rB, [rC + V]` with rC
 * loaded as `mov rC, [this + R]`: R is realm_, V env_.
 */
static void node_reset_code(const uint8_t *code, uint64_t size, uint64_t addr,
			    struct node_code *out)
{
	uint64_t pc = addr;
	size_t left = size;
	const uint8_t *p = code;
	/* per register: the displacement it was loaded from, and those its base and its base's
	 * base were loaded from (-1: not a load), whether that last one's base was this */
	bool this_reg[X86_REG_ENDING] = {false}, up2_this[X86_REG_ENDING] = {false},
	     up1_this[X86_REG_ENDING] = {false}, from_this[X86_REG_ENDING] = {false};
	int64_t loaded[X86_REG_ENDING], up1[X86_REG_ENDING], up2[X86_REG_ENDING];
	int64_t fields = -1, id = -1, env = -1, realm = -1;
	x86_reg counter_base = X86_REG_INVALID;
	csh cs;
	cs_insn *in;

	out->fields = out->async_id = out->realm = out->env = -1;
	for (size_t i = 0; i < X86_REG_ENDING; i++)
		loaded[i] = up1[i] = up2[i] = -1;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return;
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	in = cs_malloc(cs);
	this_reg[X86_REG_RDI] = true;
	while (in && left && cs_disasm_iter(cs, &p, &left, &pc, in)) {
		cs_x86 *x = &in->detail->x86;
		cs_x86_op *a = &x->operands[0], *b = &x->operands[1];
		cs_regs rd, wr;
		uint8_t nrd, nwr;

		if (in->id == X86_INS_RET || in->id == X86_INS_CALL)
			break; /* the stores come before the first call (HandleScope) */
		if (x->op_count == 2 && in->id == X86_INS_ADDSD && b->type == X86_OP_MEM &&
		    b->mem.disp == 16 && b->mem.index == X86_REG_INVALID &&
		    loaded[b->mem.base] >= 0) {
			counter_base = b->mem.base;
			fields = loaded[b->mem.base];
			env = up1[b->mem.base];
			realm = up2_this[b->mem.base] ? up2[b->mem.base] : -1;
		}
		if (x->op_count == 2 && in->id == X86_INS_MOVSD && a->type == X86_OP_MEM &&
		    a->mem.index == X86_REG_INVALID && fields >= 0) {
			if (a->mem.base == counter_base && a->mem.disp != 16)
				fields = -1; /* not the pattern */
			else if (this_reg[a->mem.base] && id < 0)
				id = a->mem.disp;
			else if (this_reg[a->mem.base]) {
				if (a->mem.disp == id + 8 && env >= 0 && realm >= 0) {
					out->fields = fields;
					out->async_id = id;
					out->env = env;
					out->realm = realm;
				}
				break;
			}
		}
		if (in->id == X86_INS_MOV && x->op_count == 2 && a->type == X86_OP_REG &&
		    a->size == 8) {
			if (b->type == X86_OP_REG) {
				this_reg[a->reg] = this_reg[b->reg];
				loaded[a->reg] = up1[a->reg] = up2[a->reg] = -1;
				continue;
			}
			if (b->type == X86_OP_MEM && b->mem.index == X86_REG_INVALID &&
			    b->mem.segment == X86_REG_INVALID && b->mem.base != X86_REG_RIP) {
				x86_reg r = b->mem.base;

				up2[a->reg] = up1[r];
				up2_this[a->reg] = up1_this[r];
				up1[a->reg] = loaded[r];
				up1_this[a->reg] = from_this[r];
				from_this[a->reg] = this_reg[r];
				this_reg[a->reg] = false;
				loaded[a->reg] = b->mem.disp;
				continue;
			}
		}
		if (!cs_regs_access(cs, in, rd, &nrd, wr, &nwr))
			for (uint8_t i = 0; i < nwr; i++) {
				this_reg[wr[i]] = from_this[wr[i]] = false;
				loaded[wr[i]] = up1[wr[i]] = up2[wr[i]] = -1;
			}
	}
	if (in)
		cs_free(in, 1);
	cs_close(&cs);
}

/* Does InternalCallbackScope(AsyncWrap* rsi, int) load doubles at [rsi + id] and [rsi + id + 8]? */
static bool node_scope_loads(const uint8_t *code, uint64_t size, uint64_t addr, int64_t id)
{
	uint64_t pc = addr;
	size_t left = size < 256 ? size : 256;
	const uint8_t *p = code;
	bool seen_id = false, seen_trigger = false;
	csh cs;
	cs_insn *in;

	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return false;
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	in = cs_malloc(cs);
	while (in && left && cs_disasm_iter(cs, &p, &left, &pc, in)) {
		cs_x86 *x = &in->detail->x86;

		if (in->id == X86_INS_CALL || in->id == X86_INS_RET)
			break;
		if (in->id == X86_INS_MOVSD && x->op_count == 2 &&
		    x->operands[1].type == X86_OP_MEM && x->operands[1].mem.base == X86_REG_RSI &&
		    x->operands[1].mem.index == X86_REG_INVALID) {
			seen_id |= x->operands[1].mem.disp == id;
			seen_trigger |= x->operands[1].mem.disp == id + 8;
		}
	}
	if (in)
		cs_free(in, 1);
	cs_close(&cs);
	return seen_id && seen_trigger;
}

/* The offset of member m in the DWARF struct named st (first definition), or -1. */
static int64_t dw_member(Dwarf *dw, const char *st, const char *m, Dwarf_Die *type_out)
{
	Dwarf_Off off = 0, next;
	size_t hsize;

	while (dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu, die;

		if (!dwarf_offdie(dw, off + hsize, &cu) || dwarf_child(&cu, &die) != 0) {
			off = next;
			continue;
		}
		do {
			Dwarf_Die mem;
			Dwarf_Attribute at;
			const char *n = dwarf_diename(&die);

			if (dwarf_tag(&die) != DW_TAG_structure_type || !n || strcmp(n, st) ||
			    dwarf_hasattr(&die, DW_AT_declaration) || dwarf_child(&die, &mem) != 0)
				continue;
			do {
				Dwarf_Word v;
				const char *mn = dwarf_diename(&mem);

				if (dwarf_tag(&mem) != DW_TAG_member || !mn || strcmp(mn, m) ||
				    !dwarf_attr(&mem, DW_AT_data_member_location, &at) ||
				    dwarf_formudata(&at, &v))
					continue;
				if (type_out &&
				    !dwarf_formref_die(dwarf_attr(&mem, DW_AT_type, &at), type_out))
					return -1;
				return (int64_t)v;
			} while (dwarf_siblingof(&mem, &mem) == 0);
		} while (dwarf_siblingof(&die, &die) == 0);
		off = next;
	}
	return -1;
}

/* libuv's uv_handle_s.data and uv_stream_s.io_watcher.fd, from DWARF (-1: absent). */
static void node_uv_fields(struct welf *w, int64_t *data, int64_t *fd)
{
	Dwarf *dw = dwarf_begin_elf(w->elf, DWARF_C_READ, NULL);
	Dwarf_Die io;
	int64_t watcher;

	*data = *fd = -1;
	if (!dw)
		return;
	*data = dw_member(dw, "uv_handle_s", "data", NULL);
	watcher = dw_member(dw, "uv_stream_s", "io_watcher", &io);
	if (watcher >= 0) {
		Dwarf_Attribute at;
		const char *n;
		int64_t f;

		while (dwarf_tag(&io) == DW_TAG_typedef &&
		       dwarf_formref_die(dwarf_attr(&io, DW_AT_type, &at), &io))
			;
		n = dwarf_diename(&io);
		f = n ? dw_member(dw, n, "fd", NULL) : -1;

		if (f >= 0)
			*fd = watcher + f;
	}
	dwarf_end(dw);
}

enum weft_analyze_result node_analyze(struct welf *w, const char *path, const char *hash,
				      struct weft_record **out, char *err, size_t errlen)
{
	uint64_t entry[NODE_NFUNCS], size[NODE_NFUNCS];
	struct node_code nc = {-1, -1, -1, -1};
	struct weft_record *rec;
	const uint8_t *code;
	int64_t uv_data, uv_fd;

	if (!rt_dynsym_funcs(w, node_funcs, NODE_NFUNCS, entry, size)) {
		snprintf(err, errlen,
			 "not a Go binary (no .go.buildinfo or .gopclntab), nginx "
			 "nor Node.js");
		return WEFT_ANALYZE_SKIP;
	}
	if (rt_record_new(w, path, hash, "node", node_version(w), node_funcs, entry, size,
			  NODE_NFUNCS, &rec, err, errlen))
		return WEFT_ANALYZE_FAIL;
	code = size[F_RESET] <= 65536 ? welf_vaddr(w, entry[F_RESET], size[F_RESET]) : NULL;
	if (code)
		node_reset_code(code, size[F_RESET], entry[F_RESET], &nc);
	code = nc.async_id >= 0 && size[F_SCOPE_WRAP] <= 8192
		   ? welf_vaddr(w, entry[F_SCOPE_WRAP], size[F_SCOPE_WRAP])
		   : NULL;
	if (!code ||
	    !node_scope_loads(code, size[F_SCOPE_WRAP], entry[F_SCOPE_WRAP], nc.async_id) ||
	    nc.async_id % 8 || nc.async_id >= 4096 || nc.fields % 8 || nc.fields >= 65536 ||
	    nc.realm % 8 || nc.realm >= 4096 || nc.env % 8 || nc.env >= 65536)
		nc.fields = nc.async_id = nc.realm = nc.env = -1;
	node_uv_fields(w, &uv_data, &uv_fd);
	if (rt_add_field(rec, NODE_FIELD("Environment.async_id_fields"), nc.fields,
			 WEFT_SRC_CODE) ||
	    rt_add_field(rec, NODE_FIELD("AsyncWrap.async_id_"), nc.async_id, WEFT_SRC_CODE) ||
	    rt_add_field(rec, NODE_FIELD("BaseObject.realm_"), nc.realm, WEFT_SRC_CODE) ||
	    rt_add_field(rec, NODE_FIELD("Realm.env_"), nc.env, WEFT_SRC_CODE) ||
	    rt_add_field(rec, NODE_FIELD("uv_handle_s.data"), uv_data, WEFT_SRC_DWARF) ||
	    rt_add_field(rec, NODE_FIELD("uv_stream_s.io_watcher.fd"), uv_fd, WEFT_SRC_DWARF))
		goto oom;
	return rt_finish(rec, false, out, err, errlen);
oom:
	return rt_finish(rec, true, out, err, errlen);
}
