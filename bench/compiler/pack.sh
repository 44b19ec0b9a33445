#!/usr/bin/env bash
# Packs what run.sh needs on the GPU machine into bench/compiler/dist/carry.tar.xz (xz keeps the carried tree
# under the device tool's 64 MiB): the CLI bundles in dist/*/ (build.sh) and the graphs of exported models.
#   bench/compiler/pack.sh MODEL_DIR...      each MODEL_DIR holds model.onnx (+ config.json) from export_model.py;
#                                            its folder name becomes the model's name in run.sh
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
for b in "$HERE"/dist/*/; do
  [ -f "$b/onnx-lower.js" ] && cp -r "$b" "$STAGE/$(basename "$b")"
done
mkdir -p "$STAGE/models"
for m in "$@"; do
  n="$(basename "$m")"
  mkdir -p "$STAGE/models/$n"
  cp "$m/model.onnx" "$STAGE/models/$n/"
  if [ -f "$m/config.json" ]; then cp "$m/config.json" "$STAGE/models/$n/"; fi
done
tar -cJf "$HERE/dist/carry.tar.xz" -C "$STAGE" .
ls -la "$HERE/dist/carry.tar.xz"
tar -tJf "$HERE/dist/carry.tar.xz" | grep -v '/$'
