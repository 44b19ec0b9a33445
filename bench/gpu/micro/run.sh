#!/usr/bin/env bash
# GPU machine: GEMV micro-benchmark (gemv_bench.cu, built here with the machine's nvcc + cuBLAS) and, with
# PROFILE_MODEL set to a bench/gpu/configs name, an nsys kernel summary of onnx-lower's decode of that model
# (needs .gpu/ as for bench/gpu/run.sh). Output under $OUT.
set -uo pipefail
source .carry/prelude.sh
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
nvcc -O3 -arch=sm_90 -std=c++17 -o /tmp/gemv_bench bench/gpu/micro/gemv_bench.cu -lcublas 2>&1 | grep -v -i warn | head -5
/tmp/gemv_bench 2>&1 | tee "$OUT/gemv.txt"
if [ -n "${PROFILE_MODEL:-}" ]; then
  G=/tmp/onnxl-gpu; mkdir -p "$G"
  for f in gpu.js onnxl_cuda.node; do xz -dc ".gpu/$f.xz" > "$G/$f"; done
  cp .gpu/onnx.proto "$G/"
  export ONNX_LOWER_NATIVE_DIR=$G
  m=$PROFILE_MODEL
  while ! grep -q '^rc=' /tmp/models/$m.export.log 2>/dev/null; do sleep 2; done
  tail -3 /tmp/models/$m.export.log
  NSYS=$(command -v nsys || ls /usr/local/cuda/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys 2>/dev/null | head -1)
  echo "nsys: ${NSYS:-none}"
  if [ -n "$NSYS" ]; then
    timeout 200 "$NSYS" profile -o /tmp/prof --force-overwrite true --cuda-graph-trace=node -t cuda node $G/gpu.js bench /tmp/models/$m/model.onnx $m --prompts 32 --new 64 --reps 1 --caches static_v3 2>&1 | grep -E 'BENCH|Error' | cut -c1-300
    timeout 120 "$NSYS" stats -r cuda_gpu_kern_sum -f csv -o "$OUT/kern" /tmp/prof.nsys-rep > /dev/null 2>&1
    ls "$OUT"; head -40 "$OUT"/kern*.csv | cut -c1-250
  else
    timeout 200 node $G/gpu.js bench /tmp/models/$m/model.onnx $m --prompts 32 --new 64 --reps 1 --caches static_v3 2>&1 | grep -E 'BENCH|Error' | cut -c1-600
  fi
fi
