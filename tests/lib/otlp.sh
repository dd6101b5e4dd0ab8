# Helpers for tests that use the OTLP test receiver (tests/lib/otlp_receiver.py).
# Source after common.sh:  . "$WEFT_ROOT/tests/lib/otlp.sh"

# otlp_receiver_start DIR [receiver args...]: start a receiver writing
# DIR/spans.jsonl and DIR/requests.jsonl; sets OTLP_PORT and OTLP_PID; it is
# stopped at exit. Waits until it listens.
otlp_receiver_start() {
	local dir=$1; shift
	rm -f "$dir/port"
	"$PY" "$WEFT_ROOT/tests/lib/otlp_receiver.py" --port-file "$dir/port" \
		--out "$dir/spans.jsonl" --requests "$dir/requests.jsonl" "$@" \
		>"$dir/receiver.log" 2>&1 &
	OTLP_PID=$!
	cleanup_add "kill $OTLP_PID; wait $OTLP_PID"
	wait_for 100 test -s "$dir/port" || fail "OTLP receiver did not start: $(cat "$dir/receiver.log")"
	OTLP_PORT=$(cat "$dir/port")
}

# A TCP port on 127.0.0.1 where nothing listens (bound then released).
free_port() {
	"$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Build what the export tests run (no-op when up to date).
export_build() {
	make -C "$WEFT_ROOT" --no-print-directory -s build/tests/export_driver >&2 ||
		fail "cannot build build/tests/export_driver"
	DRIVER=$WEFT_ROOT/build/tests/export_driver
}

# Clear every OTEL_* / WEFT_* variable a developer may have set.
export_clean_env() {
	local v
	for v in $(compgen -e | grep -E '^(OTEL_|WEFT_SPANS_FILE|WEFT_OTLP|WEFT_EXPORTER_)'); do unset "$v"; done
}
