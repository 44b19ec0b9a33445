#!/usr/bin/env python3
"""Recreates the external data file(s) of an exported model from its graph alone.

  make_data.py DIR/model.onnx [--fp16-normal]

The benchmark's graphs are exported once (export_model.py, which may run on a small machine with
`--fill none`) and travel without their weights; compile time does not depend on weight values. For every
external-data location the model names, this writes a file as long as the furthest (offset + length) the
model reads, filled with pseudo-random bytes (a 64 MiB block repeated), so that copies move real bytes and
the file sits in the page cache as a just-exported one would. Prints the bytes written and the seconds taken.
With --fp16-normal (for runtime benchmarks, which compute with the weights), every float16 tensor gets
N(0, 0.02) values (a 64 MiB block of them, repeated) and every other tensor zeros, so no NaN or Inf appears.
"""
import os
import sys
import time

import numpy as np
import onnx

BLOCK = 64 * 1024 * 1024


def extents(model_path):
    model = onnx.load(model_path, load_external_data=False)
    ends = {}

    def visit(t):
        if t.data_location != onnx.TensorProto.EXTERNAL:
            return
        info = {e.key: e.value for e in t.external_data}
        end = int(info.get("offset", 0)) + int(info["length"])
        loc = info["location"]
        ends[loc] = max(ends.get(loc, 0), end)

    for g in [model.graph]:
        for t in g.initializer:
            visit(t)
    return ends


def write_repeated(f, block, n):
    """Writes n bytes at f's position: block repeated (its last copy cut short)."""
    while n > 0:
        k = min(n, len(block))
        f.write(block[:k])
        n -= k


def fp16_normal(model_path):
    model = onnx.load(model_path, load_external_data=False)
    d = os.path.dirname(os.path.abspath(model_path))
    block = np.random.default_rng(0).normal(0.0, 0.02, BLOCK // 2).astype(np.float16).tobytes()
    t0 = time.perf_counter()
    files, total = {}, 0
    try:
        for t in model.graph.initializer:
            if t.data_location != onnx.TensorProto.EXTERNAL:
                continue
            info = {e.key: e.value for e in t.external_data}
            loc, off, n = info["location"], int(info.get("offset", 0)), int(info["length"])
            f = files.get(loc) or files.setdefault(loc, open(os.path.join(d, loc), "wb"))
            f.seek(off)
            write_repeated(f, block if t.data_type == onnx.TensorProto.FLOAT16 else bytes(BLOCK), n)
            total += n
    finally:
        for f in files.values():
            f.close()
    print(f"[make_data] {total / 1e9:.2f} GB (fp16 N(0, 0.02)) in {time.perf_counter() - t0:.1f}s", flush=True)


def main():
    model_path = sys.argv[1]
    if "--fp16-normal" in sys.argv[2:]:
        return fp16_normal(model_path)
    d = os.path.dirname(os.path.abspath(model_path))
    block = np.random.default_rng(0).integers(0, 256, BLOCK, dtype=np.uint8).tobytes()
    t0 = time.perf_counter()
    total = 0
    for loc, size in extents(model_path).items():
        path = os.path.join(d, loc)
        with open(path, "wb") as f:
            write_repeated(f, block, size)
        total += size
    print(f"[make_data] {total / 1e9:.2f} GB in {time.perf_counter() - t0:.1f}s", flush=True)


if __name__ == "__main__":
    main()
