#!/usr/bin/env bash
# CLI speed at the limit of the machine: `quantize` and `decode` of 2^26 f32 values (256 MiB)
# against `cp` of the same bytes, in one run, on tmpfs (/dev/shm). Prints seconds (best of 5)
# and the ratios.       bash benches/cli_speed.sh [N_VALUES]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-67108864}
BIN=${CARGO_TARGET_DIR:-target}/release/gridgames
cargo build --release --bin gridgames >/dev/null 2>&1
DIR=$(mktemp -d /dev/shm/gg-speed.XXXX)
trap 'rm -rf "$DIR"' EXIT
PY=${PYTHON:-python3}
"$PY" -c "import numpy as np,sys; np.save(sys.argv[1], np.random.default_rng(0).standard_normal(int(sys.argv[2]), dtype=np.float32).reshape(-1, 4096))" "$DIR/x.npy" "$N"
best() {  # best wall time of 5 runs of "$@"
    local b=999
    for _ in 1 2 3 4 5; do
        local s e
        s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N)
        b=$(echo "$e - $s" | bc -l | awk -v b="$b" '{print ($1 < b) ? $1 : b}')
    done
    echo "$b"
}
t_cp=$(best cp "$DIR/x.npy" "$DIR/copy.npy")
t_q=$(best "$BIN" quantize --format nvfp4 "$DIR/x.npy" "$DIR/q.safetensors")
"$BIN" quantize --format nvfp4 "$DIR/x.npy" "$DIR/q.safetensors" >/dev/null 2>&1
t_d=$(best "$BIN" decode "$DIR/q.safetensors" "$DIR/y.npy")
# The same values as a checkpoint of 16 tensors `layers.K.weight` (rows of 4096), written
# by hand (header JSON + data), as quantize, then decode to a dense checkpoint, see it.
"$PY" - "$DIR/x.npy" "$DIR/m.safetensors" <<'PYEOF'
import json, struct, sys
import numpy as np
x = np.load(sys.argv[1]).reshape(16, -1, 4096)
head, off = {}, 0
for k in range(16):
    n = x[k].nbytes
    head[f"layers.{k}.weight"] = {"dtype": "F32", "shape": list(x[k].shape), "data_offsets": [off, off + n]}
    off += n
h = json.dumps(head).encode()
h += b" " * ((8 - len(h) % 8) % 8)
with open(sys.argv[2], "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h)
    for k in range(16):
        f.write(x[k].tobytes())
PYEOF
t_mcp=$(best cp "$DIR/m.safetensors" "$DIR/mcopy.safetensors")
t_mq=$(best "$BIN" quantize --format nvfp4 "$DIR/m.safetensors" "$DIR/mq.safetensors")
"$BIN" quantize --format nvfp4 "$DIR/m.safetensors" "$DIR/mq.safetensors" >/dev/null 2>&1
t_md=$(best "$BIN" decode "$DIR/mq.safetensors" "$DIR/md.safetensors")
echo "values: $N ($(du -h "$DIR/x.npy" | cut -f1)), cores: $(nproc)"
printf "cp           %8.3f s\n" "$t_cp"
printf "quantize     %8.3f s   %5.2f x cp\n" "$t_q" "$(echo "$t_q / $t_cp" | bc -l)"
printf "decode       %8.3f s   %5.2f x cp\n" "$t_d" "$(echo "$t_d / $t_cp" | bc -l)"
echo "checkpoint of 16 tensors, same values:"
printf "cp           %8.3f s\n" "$t_mcp"
printf "quantize     %8.3f s   %5.2f x cp\n" "$t_mq" "$(echo "$t_mq / $t_mcp" | bc -l)"
printf "decode       %8.3f s   %5.2f x cp   (to a dense checkpoint)\n" "$t_md" "$(echo "$t_md / $t_mcp" | bc -l)"
