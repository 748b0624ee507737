# Sourced by run.sh and memory.sh: prints the path of the benches/harness.rs executable that
# `cargo bench --no-run` built in the crate at $1 (cargo names it with a hash, so it is read
# off cargo's JSON messages rather than guessed).
harness_path() {
    (cd "$1" && cargo bench --quiet --bench harness --no-run --message-format=json 2>/dev/null |
        python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "harness":
        print(m["executable"])')
}
