#!/usr/bin/env bash
# Runs on the GPU machine, from the repository root, with .carry/ (node) and .gpu/ (bundle, addon, references:
# see bench/gpu/README.md) carried. Stages, in the order given:
#   correctness   test/gpu/correctness.ts on every fixture x cache kind
#   sanitizer     compute-sanitizer memcheck on one fixture (sotu-llama, static_cache_v3)
#   export        random-weight fp16 exports of $MODELS (bench/compiler/export_model.py + tools/export_hf.py, opset 23;
#                 weights drawn on the GPU), in parallel, in the background; a model with a carried graph
#                 (bench/gpu/graphs/NAME/model.onnx) gets its data file from make_data.py --fp16-normal instead
#   ours          onnx-lower static_cache_v2/v3 decode benchmark of $MODELS (waits for the exports)
#   hf            HF transformers eager and static-cache baselines of $MODELS
# Env: MODELS (default "llama-3.2-1b qwen2.5-0.5b gpt2"), LONG (models that also run prompt 2048), NEW (128).
set -uo pipefail
source .carry/prelude.sh
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
G=/tmp/onnxl-gpu
mkdir -p "$G" /tmp/models
for f in gpu.js onnxl_cuda.node refs.bin; do [ -s "$G/$f" ] || xz -dc ".gpu/$f.xz" > "$G/$f"; done
cp .gpu/refs.json .gpu/onnx.proto "$G/"
export ONNX_LOWER_NATIVE_DIR=$G
MODELS=${MODELS:-"llama-3.2-1b qwen2.5-0.5b gpt2"}
LONG=${LONG:-"llama-3.2-1b"}
NEW=${NEW:-128}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
date -u +%Y-%m-%dT%H:%MZ >> "$OUT/gpu.txt"
prompts() { case " $LONG " in *" $1 "*) echo "32,2048";; *) echo "32";; esac; }

for stage in "$@"; do
  echo "=== $stage $(date +%T)"
  case $stage in
    correctness)
      node $G/gpu.js correctness $G --json "$OUT/correctness.json" 2>&1 | tee "$OUT/correctness.log" | grep -v '^PASS' ;;
    sanitizer)
      SAN=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
      timeout 240 "$SAN" --tool memcheck --leak-check no node $G/gpu.js correctness $G --only sotu-llama --cache static_v3 > "$OUT/sanitizer.log" 2>&1
      echo "sanitizer rc=$?"; grep -E "ERROR SUMMARY|PASS|FAIL|========= Invalid" "$OUT/sanitizer.log" | head -8 ;;
    export)
      for m in $MODELS; do
        if [ -f bench/gpu/graphs/$m/model.onnx ]; then
          ( mkdir -p /tmp/models/$m && cp bench/gpu/graphs/$m/model.onnx /tmp/models/$m/ \
              && python3 bench/compiler/make_data.py /tmp/models/$m/model.onnx --fp16-normal > /tmp/models/$m.export.log 2>&1; echo "rc=$?" >> /tmp/models/$m.export.log ) &
        else
          ( timeout 420 python3 bench/compiler/export_model.py --fill normal --config bench/gpu/configs/$m.json --dtype fp16 --device cuda --opset 23 \
              --batch 1 --no-ort-check --out /tmp/models/$m > /tmp/models/$m.export.log 2>&1; echo "rc=$?" >> /tmp/models/$m.export.log ) &
        fi
      done ;;
    ours)
      for m in $MODELS; do
        while ! grep -q '^rc=' /tmp/models/$m.export.log 2>/dev/null; do sleep 2; done
        tail -2 /tmp/models/$m.export.log
        [ -s /tmp/models/$m/model.onnx ] || { echo "no export of $m"; continue; }
        timeout 300 node $G/gpu.js bench /tmp/models/$m/model.onnx $m --prompts $(prompts $m) --new $NEW --caches ${CACHES:-static_v3,static_v2} --check 2>&1 | tee -a "$OUT/bench.log" | grep -E 'BENCH|CHECK|Error|error' | cut -c1-330
      done ;;
    hf)
      for m in $MODELS; do
        timeout 300 python3 bench/gpu/hf_bench.py bench/gpu/configs/$m.json $m --prompts $(prompts $m) --new $NEW 2>&1 | tee -a "$OUT/bench.log" | grep -E 'BENCH|Error' | cut -c1-400
      done ;;
    *) echo "unknown stage $stage" ;;
  esac
done
echo "=== done $(date +%T)"
