# tests/: the runner is tests/run; test programs built here are listed in TESTS_BIN.
.PHONY: test-programs
test-programs: $(TESTS_BIN)
