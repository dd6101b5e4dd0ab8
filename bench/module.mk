# bench/: every bench/<name>/run prints one Markdown section on stdout (progress on
# stderr); `make bench` runs them all and writes docs/PERFORMANCE.md.
.PHONY: bench
bench: deps
	@$(MAKE) --no-print-directory all test-programs
	@bench/run-all docs/PERFORMANCE.md $(BENCH_FILTER)

include bench/exporter/module.mk
