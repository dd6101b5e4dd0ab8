# The start both of weft-go's VM guest scripts share (go_vm_write.sh,
# go_vm_grpc.sh), sourced at the repository root with the script's own
# arguments, SCENARIO DB ...: takes those two off, sets scenario, db, a
# temporary directory T and a pin directory of its own, and refuses a
# locked-down guest (the guest kernel must allow bpf_probe_write_user).
# PIN_NAME: the pin directory's name (its pid is appended).
export WEFT_ROOT=$PWD
. tests/lib/common.sh
. tests/lib/go_chain.sh

scenario=$1 db=$2
shift 2
T=$(mktempdir)
export WEFT_PIN_DIR=/sys/fs/bpf/$PIN_NAME-$$
cleanup_add "rm -rf '$WEFT_PIN_DIR'"
grep -q none /sys/kernel/security/lockdown 2>/dev/null || fail "guest kernel is locked down"
