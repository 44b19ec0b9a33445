#!/usr/bin/env bash
# The issue-6 benchmark in one device call (see README.md): exports in the background, correctness, then per
# model onnx-lower (static_v3 and static_v2, --check) and the HF baselines, smallest models first; stops
# starting steps when the call's deadline (BUDGET seconds, default 560) nears; sanitizer last if time is left.
set -uo pipefail
source .carry/prelude.sh
OUT=${OUT:-/tmp/out}; export OUT
T0=$(date +%s); BUDGET=${BUDGET:-560}
left() { echo $(( BUDGET - ($(date +%s) - T0) )); }
MODELS=${MODELS:-"llama-3.2-1b qwen2.5-0.5b gpt2 qwen2.5-1.5b llama-3.2-3b llama-3.1-8b"}
MODELS="$MODELS" bash bench/gpu/run.sh export correctness > "$OUT/run.log" 2>&1
grep -E "correctness:|^FAIL" "$OUT/run.log" | head -20
G=/tmp/onnxl-gpu; export ONNX_LOWER_NATIVE_DIR=$G
w() { while ! grep -q '^rc=' /tmp/models/$1.export.log 2>/dev/null; do sleep 2; [ "$(left)" -gt 0 ] || return 1; done; }
for m in $MODELS; do
  p=32; [ "$m" = llama-3.2-1b ] && p=32,2048
  need=60; case $m in llama-3.1-8b) need=150;; llama-3.2-3b) need=100;; esac
  [ "$(left)" -gt "$need" ] || { echo "skip $m: $(left) s left"; continue; }
  w "$m" || { echo "no export of $m"; continue; }
  timeout $(( $(left) - 10 )) node $G/gpu.js bench /tmp/models/$m/model.onnx $m --prompts $p --new 128 --caches static_v3,static_v2 --check 2>&1 | tee -a "$OUT/bench.log" | grep -E 'BENCH|CHECK|Error|error' | cut -c1-260
  [ "$(left)" -gt "$need" ] || { echo "skip hf $m: $(left) s left"; continue; }
  timeout $(( $(left) - 10 )) python3 bench/gpu/hf_bench.py bench/gpu/configs/$m.json $m --prompts $p --new 128 2>&1 | tee -a "$OUT/bench.log" | grep -E 'BENCH|Error' | cut -c1-260
done
if [ "$(left)" -gt 80 ]; then bash bench/gpu/run.sh sanitizer 2>&1 | tail -2; fi
echo "done with $(left) s left"
