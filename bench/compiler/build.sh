#!/usr/bin/env bash
# Bundles the onnx-lower CLI into one file for the GPU machine (it has no Node modules): esbuild, with the ONNX
# schema next to it (wire.ts reads onnx.proto from the bundle's folder); onnxruntime-node and the tokenizers
# package, which `lower` does not use, are replaced by stub-module.js.
#   bench/compiler/build.sh [SRC_ROOT] [NAME]     -> bench/compiler/dist/NAME/{onnx-lower.js,onnx.proto,BUILD_INFO.json}
# SRC_ROOT defaults to this checkout; NAME to "tree". BUILD_INFO.json records the commit and whether the source
# differed from it, so a benchmark table can say exactly what it measured.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
SRC="$(cd "${1:-$REPO}" && pwd)"
NAME="${2:-tree}"
OUT="$HERE/dist/$NAME"
mkdir -p "$OUT"
ESBUILD="$REPO/node_modules/.bin/esbuild"
"$ESBUILD" "$SRC/src/cli/main.ts" --bundle --platform=node --target=node20 --log-level=warning \
  --alias:onnxruntime-node="$HERE/stub-module.js" --alias:@huggingface/tokenizers="$HERE/stub-module.js" \
  --outfile="$OUT/onnx-lower.js"
cp "$SRC/src/ir/serde/onnx.proto" "$OUT/onnx.proto"
commit="$(git -C "$SRC" rev-parse --short HEAD)"
dirty="$(git -C "$SRC" status --porcelain --untracked-files=no -- src | wc -l | tr -d ' ')"
cat > "$OUT/BUILD_INFO.json" <<EOF
{"name": "$NAME", "commit": "$commit", "modified_tracked_src_files": $dirty, "built": "$(date -u +%Y-%m-%dT%H:%MZ)"}
EOF
echo "built $OUT/onnx-lower.js ($(du -h "$OUT/onnx-lower.js" | cut -f1)) from $commit, $dirty modified src files"
