# bench/: every bench/<name>/run prints one Markdown section on stdout (progress on
# stderr); `make bench` runs them all and writes docs/PERFORMANCE.md.
.PHONY: bench
bench: deps
	@$(MAKE) --no-print-directory all test-programs
	@bench/run-all docs/PERFORMANCE.md $(BENCH_FILTER)

include bench/exporter/module.mk

# bench/bpfcost: what one BPF program run and each helper cost here.
$(B)/obj/bench/bpfcost/bpfcost.o: $(B)/bpf/bench/bpfcost/bpfcost.skel.h
$(B)/bench-bpfcost/bpfcost: $(B)/obj/bench/bpfcost/bpfcost.o $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(COMMON_LIB) $(LIBBPF_LIBS)
TESTS_BIN += $(B)/bench-bpfcost/bpfcost
LINT_SOURCES += bench/bpfcost/bpfcost.c

# bench/h2c's tracepoint floor: one empty program on each tracepoint weft-http attached.
$(B)/obj/bench/h2c/tpfloor.o: $(B)/bpf/bench/h2c/tpfloor.skel.h
$(B)/bench-h2c/h2c-tpfloor: $(B)/obj/bench/h2c/tpfloor.o $(B)/obj/bench/traps_hold.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBBPF_LIBS)
TESTS_BIN += $(B)/bench-h2c/h2c-tpfloor
LINT_SOURCES += bench/h2c/tpfloor.c

# bench/bpfcost's uprobe hit cost by probed instruction (its empty program: bench/uprobe_traps.bpf.c).
$(B)/obj/bench/bpfcost/uprobecost.o: $(B)/bpf/bench/uprobe_traps.skel.h
$(B)/bench-bpfcost/uprobecost: $(B)/obj/bench/bpfcost/uprobecost.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBBPF_LIBS)
TESTS_BIN += $(B)/bench-bpfcost/uprobecost
LINT_SOURCES += bench/bpfcost/uprobecost.c
