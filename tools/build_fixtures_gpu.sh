#!/usr/bin/env bash
# Builds the project's own fixtures on the GPU machine (torch, transformers, onnx, onnxruntime, tokenizers).
# Run from the project root, after `python3 tools/prep_sotu_data.py ... --out .carry/sotu` here:
#
#   OUT=<folder> timeout -k 5 545 bash tools/build_fixtures_gpu.sh build; OUT=<folder> bash tools/build_fixtures_gpu.sh pack
#
# build: fixtures/models/{llama-eager18,qwen2-fp16-23,gpt2-18,llama-23} (tools/export_hf.py),
#        fixtures/exports/<m>.greedy.json (tools/ort_greedy_refs.py on the existing exports),
#        .carry/sotu-hf (tools/train_tiny_llama.py, on the GPU, in parallel with the CPU work) and its exports
#        fixtures/models/sotu-llama (opset 23) and fixtures/models/sotu-llama-18 (opset 18).
# pack:  one tar of all that and the logs, split into 15 MiB parts under $OUT, and a summary.
set -u
OUT=${OUT:-/tmp/fixtures-out}
LOGS=${LOGS:-/tmp/fixture-logs}
mkdir -p "$OUT" "$LOGS"
export PYTHONUNBUFFERED=1
PROMPT="The state of the Union is"

stamp() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$LOGS/driver.log"; }

seed_of() { local s; s=$(head -n1 "$LOGS/seed-$1.txt" 2>/dev/null); echo "${s:-0}"; }

build() {
  nvidia-smi > "$LOGS/nvidia-smi.txt" 2>&1
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$LOGS/gpu.txt" 2>&1
  python3 -c "import sys,torch,transformers,onnx,onnxruntime,onnxscript,tokenizers; print(sys.version.split()[0], 'torch', torch.__version__, 'transformers', transformers.__version__, 'onnx', onnx.__version__, 'onnxruntime', onnxruntime.__version__, 'onnxscript', onnxscript.__version__, 'tokenizers', tokenizers.__version__)" > "$LOGS/versions.txt" 2>&1
  stamp "gpu: $(cat "$LOGS/gpu.txt"); $(cat "$LOGS/versions.txt")"

  # The trained model: GPU, background. Its exports follow it.
  (
    python3 tools/train_tiny_llama.py --data .carry/sotu/sotu.txt --out .carry/sotu-hf \
      --minutes "${TRAIN_MINUTES:-4.5}" > "$LOGS/train.log" 2>&1 || { echo "training failed" >> "$LOGS/driver.log"; exit 1; }
    stamp "training done"
    OMP_NUM_THREADS=6 python3 tools/export_hf.py .carry/sotu-hf --out fixtures/models/sotu-llama --opset 23 \
      --ref-long --prompt "$PROMPT" > "$LOGS/export-sotu-llama.log" 2>&1 &
    OMP_NUM_THREADS=6 python3 tools/export_hf.py .carry/sotu-hf --out fixtures/models/sotu-llama-18 --opset 18 \
      --ref-long --prompt "$PROMPT" > "$LOGS/export-sotu-llama-18.log" 2>&1 &
    wait
    stamp "sotu exports done"
  ) &
  local train_pid=$!

  export OMP_NUM_THREADS=3
  local pids=()
  for m in gpt2 llama qwen2; do
    python3 tools/find_export_seed.py "fixtures/exports/$m.ref.json" "fixtures/exports/$m.dynamo18.onnx" \
      > "$LOGS/seed-$m.txt" 2> "$LOGS/seed-$m.log" &
    pids+=($!)
  done
  wait "${pids[@]}"
  stamp "seeds: gpt2=$(seed_of gpt2) llama=$(seed_of llama) qwen2=$(seed_of qwen2) ($(cat "$LOGS"/seed-*.log | tr '\n' ' '))"

  pids=()
  for m in gpt2 llama qwen2; do
    python3 tools/ort_greedy_refs.py "fixtures/exports/$m.dynamo18.onnx" --cross-check "fixtures/exports/$m.dynamo23.onnx" \
      --out "fixtures/exports/$m.greedy.json" > "$LOGS/greedy-$m.log" 2>&1 &
    pids+=($!)
  done
  local E="python3 tools/export_hf.py --ref-long"
  $E --config fixtures/exports/llama.ref.json --seed "$(seed_of llama)" --attn eager --opset 18 \
    --ref-inputs fixtures/exports/llama.ref.json --out fixtures/models/llama-eager18 > "$LOGS/export-llama-eager18.log" 2>&1 &
  pids+=($!)
  (
    $E --config fixtures/exports/qwen2.ref.json --seed "$(seed_of qwen2)" --dtype fp16 --opset 23 \
      --ref-inputs fixtures/exports/qwen2.ref.json --out fixtures/models/qwen2-fp16-23 > "$LOGS/export-qwen2-fp16-23.log" 2>&1 ||
    { echo "=== CPU failed, retrying on cuda ===" >> "$LOGS/export-qwen2-fp16-23.log";
      $E --config fixtures/exports/qwen2.ref.json --seed "$(seed_of qwen2)" --dtype fp16 --opset 23 --device cuda \
        --ref-inputs fixtures/exports/qwen2.ref.json --out fixtures/models/qwen2-fp16-23 >> "$LOGS/export-qwen2-fp16-23.log" 2>&1; }
  ) &
  pids+=($!)
  wait "${pids[@]}"
  stamp "greedy refs, llama-eager18, qwen2-fp16-23 done"

  pids=()
  $E --config fixtures/exports/gpt2.ref.json --seed "$(seed_of gpt2)" --opset 18 --batch 1 \
    --ref-inputs fixtures/exports/gpt2.ref.json --out fixtures/models/gpt2-18 > "$LOGS/export-gpt2-18.log" 2>&1 &
  pids+=($!)
  $E --config fixtures/exports/llama.ref.json --seed "$(seed_of llama)" --opset 23 --batch 1 \
    --ref-inputs fixtures/exports/llama.ref.json --out fixtures/models/llama-23 > "$LOGS/export-llama-23.log" 2>&1 &
  pids+=($!)
  wait "${pids[@]}"
  stamp "gpt2-18, llama-23 done"

  {
    echo "=== gpt2-18 vs shared gpt2.dynamo18"
    python3 tools/compare_exports.py fixtures/exports/gpt2.dynamo18.onnx fixtures/models/gpt2-18/model.onnx \
      --ref fixtures/exports/gpt2.ref.json --greedy fixtures/exports/gpt2.greedy.json --greedy-ref fixtures/models/gpt2-18/ref.json
    echo "=== llama-23 vs shared llama.dynamo23"
    python3 tools/compare_exports.py fixtures/exports/llama.dynamo23.onnx fixtures/models/llama-23/model.onnx \
      --ref fixtures/exports/llama.ref.json --greedy fixtures/exports/llama.greedy.json --greedy-ref fixtures/models/llama-23/ref.json
    echo "=== llama-eager18 vs shared llama.dynamo18"
    python3 tools/compare_exports.py fixtures/exports/llama.dynamo18.onnx fixtures/models/llama-eager18/model.onnx \
      --ref fixtures/exports/llama.ref.json --greedy fixtures/exports/llama.greedy.json --greedy-ref fixtures/models/llama-eager18/ref.json
    echo "=== qwen2-fp16-23 vs shared qwen2.dynamo23"
    python3 tools/compare_exports.py fixtures/exports/qwen2.dynamo23.onnx fixtures/models/qwen2-fp16-23/model.onnx \
      --ref fixtures/exports/qwen2.ref.json --greedy fixtures/exports/qwen2.greedy.json --greedy-ref fixtures/models/qwen2-fp16-23/ref.json
  } > "$LOGS/compare.log" 2>&1
  # Node listings (no weights) of the new exports, to study the exporter's patterns offline.
  python3 - > "$LOGS/nodes.log" 2>&1 <<'EOF'
import glob, onnx
for path in sorted(glob.glob("fixtures/models/*/model.onnx")):
    m = onnx.load(path, load_external_data=False)
    print(f"##### {path} opset {[(o.domain, o.version) for o in m.opset_import]}")
    for v in list(m.graph.input) + list(m.graph.output):
        print("io", v.name, onnx.helper.printable_type(v.type))
    for n in m.graph.node:
        attrs = []
        for a in n.attribute:
            if a.type == onnx.AttributeProto.TENSOR:
                t = a.t
                val = onnx.numpy_helper.to_array(t)
                attrs.append(f"{a.name}=tensor{list(t.dims)}:{val.ravel()[:8].tolist()}")
            elif a.type == onnx.AttributeProto.GRAPH:
                attrs.append(f"{a.name}=<graph {len(a.g.node)} nodes>")
            else:
                attrs.append(f"{a.name}={onnx.helper.get_attribute_value(a)!r}"[:120])
        print(f"{','.join(n.output)} = {n.op_type}({', '.join(n.input)}) {' '.join(attrs)}")
EOF
  stamp "compare + node listings done; waiting for training"
  wait "$train_pid"
  stamp "all done"
}

pack() {
  local files=(fixtures/models fixtures/exports/*.greedy.json)
  [ -d .carry/sotu-hf ] && files+=(.carry/sotu-hf)
  tar -cf /tmp/fixtures.tar "${files[@]}" 2>> "$LOGS/driver.log"
  (cd "$OUT" && split -b 15M -d /tmp/fixtures.tar fixtures.tar.part-)
  tar -czf "$OUT/logs.tar.gz" -C "$(dirname "$LOGS")" "$(basename "$LOGS")"
  {
    echo "== sizes"; du -ab fixtures/models fixtures/exports/*.greedy.json .carry/sotu-hf 2>/dev/null | sort -k2
    echo "== driver"; cat "$LOGS/driver.log"
    echo "== train (tail)"; tail -n 25 "$LOGS/train.log" 2>/dev/null
    echo "== export checks"; grep -h "checks:\|failed\|WARNING\|Error" "$LOGS"/export-*.log | cut -c1-600
    echo "== compare"; grep -v "^ " "$LOGS/compare.log" | grep "max|\|greedy_\|io \|===\|<-" | cut -c1-400
    echo "== greedy"; grep -h "cross-check" "$LOGS"/greedy-*.log | cut -c1-400
  } > "$OUT/summary.txt" 2>&1
  cat "$OUT/summary.txt"
  ls -la "$OUT"
}

"${1:-build}"
