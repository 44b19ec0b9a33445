#!/usr/bin/env bash
# Bundles what the GPU machine runs into .gpu/ (ignored; carried by the device call): gpu.js (correctness +
# bench), the schema next to it, and refs.js (run here, where onnxruntime-node exists, to make CPU references).
# By default the bundle is built from the checkout as it is (`git describe --dirty` and the modified files are
# written to .gpu/SOURCE); with --head, from a worktree of HEAD plus this runtime's files, so that other
# people's uncommitted work cannot leak into measurements.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
out="$root/.gpu"
mkdir -p "$out"
wt=$root
if [ "${1:-}" = "--head" ]; then
  wt=$(mktemp -d /tmp/onnxl-wt.XXXXXX)
  git worktree add --detach "$wt" HEAD >/dev/null
  trap 'git worktree remove --force "$wt" >/dev/null 2>&1 || true' EXIT
  ln -s "$root/node_modules" "$wt/node_modules"
  for p in src/runtime/native src/runtime/plan src/runtime/cuda-backend.ts src/runtime/cuda-sampling.ts src/runtime/sampling.ts src/converters/cuda test/gpu bench/gpu; do
    [ -e "$root/$p" ] || continue
    mkdir -p "$wt/$(dirname "$p")"
    rm -rf "$wt/$p"
    cp -r "$root/$p" "$wt/$p"
  done
  echo "HEAD $(git rev-parse --short HEAD) + runtime files" > "$out/SOURCE"
else
  { echo "checkout $(git describe --always --dirty)"; git status --short src; } > "$out/SOURCE"
fi
(cd "$wt" && npx esbuild bench/gpu/main.ts --bundle --platform=node --target=node20 --outfile="$out/gpu.js" --external:onnxruntime-node --log-level=warning)
(cd "$wt" && npx esbuild test/gpu/make-refs.ts --bundle --platform=node --target=node20 --outfile="$out/refs.js" --external:onnxruntime-node --log-level=warning)
cp src/ir/serde/onnx.proto "$out/"
echo "bundled from $(git rev-parse --short HEAD) into $out"
