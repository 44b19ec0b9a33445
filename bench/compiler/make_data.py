#!/usr/bin/env python3
"""Recreates the external data file(s) of an exported model from its graph alone.

  make_data.py DIR/model.onnx

The benchmark's graphs are exported once (export_model.py, which may run on a small machine with
`--fill none`) and travel without their weights; compile time does not depend on weight values. For every
external-data location the model names, this writes a file as long as the furthest (offset + length) the
model reads, filled with pseudo-random bytes (a 64 MiB block repeated), so that copies move real bytes and
the file sits in the page cache as a just-exported one would. Prints the bytes written and the seconds taken.
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


def main():
    model_path = sys.argv[1]
    d = os.path.dirname(os.path.abspath(model_path))
    block = np.random.default_rng(0).integers(0, 256, BLOCK, dtype=np.uint8).tobytes()
    t0 = time.perf_counter()
    total = 0
    for loc, size in extents(model_path).items():
        path = os.path.join(d, loc)
        with open(path, "wb") as f:
            left = size
            while left > 0:
                n = min(left, BLOCK)
                f.write(block[:n])
                left -= n
        total += size
    print(f"[make_data] {total / 1e9:.2f} GB in {time.perf_counter() - t0:.1f}s", flush=True)


if __name__ == "__main__":
    main()
