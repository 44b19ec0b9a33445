#!/usr/bin/env python3
"""Find the torch seed that produced the random weights of an existing export.

Rebuilds the model from the config in a ref.json the way tools/export_hf.py does
(torch.manual_seed(seed), then AutoModelForCausalLM.from_config in fp32) for each candidate seed and
compares its embedding with the initializer of the same name in the ONNX file (prefixed `m.`).
Prints the seed found, or nothing and exit status 1.

    python3 tools/find_export_seed.py fixtures/exports/llama.ref.json fixtures/exports/llama.dynamo18.onnx
"""
import argparse
import json
import sys

CANDIDATES = list(range(0, 257)) + [1000, 1024, 1234, 2023, 2024, 2025, 2026, 4242, 12345, 31337, 42424242]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ref_json", help="ref.json holding the HF config under 'config'")
    ap.add_argument("onnx_model", help="export whose weights to match")
    ap.add_argument("--attn", default="sdpa")
    args = ap.parse_args(argv)

    import numpy as np
    import onnx
    import torch
    from onnx import numpy_helper
    from transformers import AutoModelForCausalLM, CONFIG_MAPPING

    with open(args.ref_json, encoding="utf-8") as f:
        d = dict(json.load(f)["config"])
    d = {k: v for k, v in d.items() if k not in ("transformers_version", "_name_or_path")}
    config = CONFIG_MAPPING[d.pop("model_type")].from_dict(d)
    inits = {t.name: t for t in onnx.load(args.onnx_model).graph.initializer}

    for seed in CANDIDATES:
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, attn_implementation=args.attn, dtype=torch.float32)
        params = dict(model.named_parameters())
        name, param = next((n, p) for n, p in params.items() if f"m.{n}" in inits)
        want = numpy_helper.to_array(inits[f"m.{name}"])
        if want.shape == tuple(param.shape) and np.array_equal(want, param.detach().numpy()):
            same = sum(np.array_equal(numpy_helper.to_array(inits[f"m.{n}"]), p.detach().numpy())
                       for n, p in params.items() if f"m.{n}" in inits)
            print(seed)
            print(f"seed {seed}: {name} matches; {same} of {len(params)} parameters equal an initializer",
                  file=sys.stderr)
            return 0
    print(f"no seed among {len(CANDIDATES)} candidates reproduces {args.onnx_model}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
