#!/usr/bin/env python3
"""Compare two ONNX exports of a causal LM: op counts, inputs/outputs, and onnxruntime logits.

    python3 tools/compare_exports.py fixtures/exports/llama.dynamo23.onnx fixtures/models/llama-23/model.onnx \\
        --ref fixtures/exports/llama.ref.json

With --ref, both models run (onnxruntime CPU, graph optimisations off) on the ref's input_ids and
position_ids, and the largest absolute logits differences (A vs B, each vs the ref's logits) are printed.
With --greedy A.greedy.json --greedy-ref B/ref.json, the greedy_* lists of the two files are compared.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--ref", help="ref.json with input_ids, position_ids, logits")
    ap.add_argument("--greedy", help="JSON with greedy_* lists (e.g. fixtures/exports/llama.greedy.json)")
    ap.add_argument("--greedy-ref", help="JSON with greedy_* lists to compare against --greedy")
    args = ap.parse_args(argv)

    import numpy as np
    import onnx
    from export_hf import op_counts, io_signature
    from ort_greedy_refs import make_session

    ma, mb = onnx.load(args.a), onnx.load(args.b)
    ca, cb = op_counts(ma), op_counts(mb)
    print(f"{'op':32s} {os.path.basename(args.a):>24s} {os.path.basename(args.b):>24s}")
    for op in sorted(set(ca) | set(cb)):
        mark = "" if ca.get(op, 0) == cb.get(op, 0) else "   <-"
        print(f"{op:32s} {ca.get(op, 0):24d} {cb.get(op, 0):24d}{mark}")
    print("io A:", json.dumps(io_signature(ma)))
    print("io B:", json.dumps(io_signature(mb)))
    print("initializers A/B:", len(ma.graph.initializer), len(mb.graph.initializer),
          "same names:", {t.name for t in ma.graph.initializer} == {t.name for t in mb.graph.initializer})

    if args.ref:
        with open(args.ref, encoding="utf-8") as f:
            ref = json.load(f)
        feed = {"input_ids": np.asarray(ref["input_ids"], np.int64),
                "position_ids": np.asarray(ref["position_ids"], np.int64)}
        la = make_session(args.a).run(["logits"], feed)[0].astype(np.float32)
        lb = make_session(args.b).run(["logits"], feed)[0].astype(np.float32)
        lr = np.asarray(ref["logits"], np.float32).reshape(la.shape)
        print(f"max|A-B| {np.abs(la - lb).max():.3g}  max|A-ref| {np.abs(la - lr).max():.3g}  "
              f"max|B-ref| {np.abs(lb - lr).max():.3g}")
    if args.greedy and args.greedy_ref:
        with open(args.greedy, encoding="utf-8") as f:
            g = json.load(f)
        with open(args.greedy_ref, encoding="utf-8") as f:
            h = json.load(f)
        for key in sorted(k for k in g if k.startswith("greedy_") and k in h):
            print(f"{key}: {'agrees' if g[key] == h[key] else 'differs'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
