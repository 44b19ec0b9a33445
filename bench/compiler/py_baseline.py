#!/usr/bin/env python3
"""The Python baselines of the compiler benchmark, one per process (so that peak RSS is per tool).

  py_baseline.py onnx_ir-copy IN OUT        onnx_ir.load + onnx_ir.save(external_data=...): weights copied
  py_baseline.py onnx_ir-ref IN OUT         onnx_ir.load + onnx_ir.save: external tensors keep their
                                            references (OUT must sit next to IN's data file)
  py_baseline.py onnxscript-ref IN OUT      onnx_ir.load, onnxscript optimizer.optimize, rewriter.rewrite
                                            (default rules), rewriter.ort_fusions.optimize_for_ort (the
                                            transformer fusions: RMSNorm, rotary, SDPA/GQA, ...), onnx_ir.save
                                            keeping references
  py_baseline.py onnxscript-copy IN OUT     the same, saving with the weights copied

Prints one JSON line: {"tool", "phases": {name: seconds}, "nodes_before", "nodes_after", ...}.
"""
import json
import os
import sys
import time


def count_nodes(model):
    n = 0
    for g in model.graphs():
        n += len(g)
    return n


def main():
    mode, src, dst = sys.argv[1], sys.argv[2], sys.argv[3]
    phases = {}
    t = time.perf_counter()
    import onnx_ir as ir
    extra = {"onnx_ir": ir.__version__}
    if mode.startswith("onnxscript"):
        import onnxscript
        from onnxscript import optimizer, rewriter
        from onnxscript.rewriter import ort_fusions
        extra["onnxscript"] = onnxscript.__version__
    phases["import"] = time.perf_counter() - t

    t = time.perf_counter()
    model = ir.load(src)
    phases["load"] = time.perf_counter() - t
    extra["nodes_before"] = count_nodes(model)

    if mode.startswith("onnxscript"):
        t = time.perf_counter()
        optimizer.optimize(model)
        phases["optimize"] = time.perf_counter() - t
        t = time.perf_counter()
        rewriter.rewrite(model)
        phases["rewrite"] = time.perf_counter() - t
        t = time.perf_counter()
        model, fusions = ort_fusions.optimize_for_ort(model)
        phases["ort_fusions"] = time.perf_counter() - t
        extra["fusions"] = {k: v for k, v in fusions.items() if v}
    extra["nodes_after"] = count_nodes(model)

    t = time.perf_counter()
    if mode.endswith("-copy"):
        ir.save(model, dst, external_data=os.path.basename(dst) + ".data")
    else:
        ir.save(model, dst)
    phases["save"] = time.perf_counter() - t
    print(json.dumps({"tool": mode, "phases": phases, **extra}), flush=True)


if __name__ == "__main__":
    main()
