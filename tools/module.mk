# tools/: scripts installed beside the programs, and `make install`.
#
#   make install [PREFIX=/usr/local] [DESTDIR=]
# installs every program of $(PROGRAMS) and the scripts tools/weft and
# tools/weft-traces into $(PREFIX)/bin, the systemd units (their paths set
# to this PREFIX) into $(PREFIX)/lib/systemd/system, the docs and examples
# into $(PREFIX)/share/doc/weft, and /etc/default/weft unless one exists.
SYSCONFDIR    ?= /etc
BINDIR        := $(PREFIX)/bin
UNITDIR       := $(PREFIX)/lib/systemd/system
DOCDIR        := $(PREFIX)/share/doc/weft
TOOLS_SCRIPTS  = $(wildcard tools/weft tools/weft-traces)
SYSTEMD_UNITS := deploy/systemd/weft.service deploy/systemd/weft-analyze.service \
                 deploy/systemd/weft-analyze.timer
DOC_FILES      = $(wildcard README.md LICENSE) $(shell find docs -name '*.md' 2>/dev/null | sort)

# `all` builds $(PROGRAMS) as the root makefile defines it after every module.
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)/examples
	$(if $(strip $(PROGRAMS)),install -m 0755 $(PROGRAMS) $(DESTDIR)$(BINDIR)/)
	$(if $(strip $(TOOLS_SCRIPTS)),install -m 0755 $(TOOLS_SCRIPTS) $(DESTDIR)$(BINDIR)/)
	@set -e; for u in $(SYSTEMD_UNITS); do \
		echo "install $$u -> $(DESTDIR)$(UNITDIR)/$${u##*/}"; \
		sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' $$u \
			>$(DESTDIR)$(UNITDIR)/$${u##*/}.tmp; \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$${u##*/}.tmp; \
		mv $(DESTDIR)$(UNITDIR)/$${u##*/}.tmp $(DESTDIR)$(UNITDIR)/$${u##*/}; \
	done
	@set -e; for f in $(DOC_FILES); do \
		echo "install $$f -> $(DESTDIR)$(DOCDIR)/$${f#docs/}"; \
		install -D -m 0644 $$f $(DESTDIR)$(DOCDIR)/$${f#docs/}; \
	done
	install -m 0644 deploy/systemd/weft.default $(DESTDIR)$(DOCDIR)/examples/default-weft
	install -m 0644 deploy/systemd/weft-go-write.conf $(DESTDIR)$(DOCDIR)/examples/weft-go-write.conf
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/default/weft ]; then \
		echo "install: keeping existing $(DESTDIR)$(SYSCONFDIR)/default/weft"; \
	else \
		install -D -m 0644 deploy/systemd/weft.default $(DESTDIR)$(SYSCONFDIR)/default/weft; \
	fi

# --- weft wrapper, weft-probe (weft doctor), demo, VM test object ---
# weft-probe: the capability checks behind `weft doctor`.
PROGRAMS += $(B)/bin/weft-probe
LINT_SOURCES += tools/weft_probe.c
$(B)/obj/tools/weft_probe.o: $(B)/bpf/tools/weft_probe.skel.h
$(B)/bin/weft-probe: $(B)/obj/tools/weft_probe.o $(B)/lib/libweftcommon.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LIBBPF_LIBS)

# BPF object loaded by tests/vm/vm_harness.test (host refuses it, guest accepts).
TESTS_BIN += $(B)/bpf/tests/vm/write_user.bpf.o
# make demo: builds everything, runs the demo chain through the wrapper on this
# machine; make demo-vm: the same chain in the VM (Debian 6.1, Go writes on),
# built here first since the guest sees the tree read-only; WEFT_SPANS_FILE's
# directory is shared writable with the guest so the spans land on the host.
demo: deps
	@tools/demo
demo-vm: deps
	@tools/demo --build-only
	@WEFT_VM_SHARE="$${WEFT_SPANS_FILE:+$$(dirname "$$WEFT_SPANS_FILE")}" tests/vm/run tools/demo --no-build
# --- end weft wrapper, weft-probe, demo ---
