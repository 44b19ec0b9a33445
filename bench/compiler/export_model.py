#!/usr/bin/env python3
"""Exports an LLM-shaped ONNX model for the compiler benchmark with tools/export_hf.py.

export_hf.py initialises random weights in fp32 on the CPU before casting (so that a seed gives the same
weights everywhere). For an 8B-shaped model that is 32 GB of memory and minutes of init, which the
benchmark does not need: compile time does not depend on weight values. This wrapper swaps in a loader
that builds the model on the meta device and then materialises it with `to_empty` on `--device`:

  --fill none     weights are uninitialised memory (untouched pages: no RAM, no init time), and the save
                  writes no weight bytes (the data file is sparse, see save_graph_only). Use it to make
                  the graph (model.onnx) of a big model on a small machine; `make_data.py` then
                  recreates a data file of the right size with bytes in it.
  --fill normal   weights ~ N(0, 0.02) drawn on --device (fast on a GPU).

Everything else (export options, stripping, provenance) is export_hf.py's. Extra arguments are passed on.
Example:
  python3 bench/compiler/export_model.py --fill none --config bench/compiler/configs/llama-3.1-8b.json \
      --dtype fp16 --opset 18 --external-data --out /tmp/llama8b
"""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))

import export_hf  # noqa: E402


def make_loader(fill):
    def load_model(args, config, torch_dtype):
        import torch
        from transformers import AutoModelForCausalLM
        t0 = time.time()
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config, attn_implementation=args.attn, dtype=torch_dtype,
                                                     trust_remote_code=args.trust_remote_code)
        model = model.to_empty(device=args.device)
        if hasattr(model, "tie_weights"):
            model.tie_weights()
        # Non-persistent buffers (RoPE inverse frequencies) were computed on the meta device: recompute.
        for _, mod in model.named_modules():
            if hasattr(mod, "inv_freq") and hasattr(mod, "config"):
                fresh = type(mod)(config=mod.config)
                for buf in ("inv_freq", "original_inv_freq"):
                    if hasattr(fresh, buf):
                        setattr(mod, buf, getattr(fresh, buf).to(args.device))
        if fill == "normal":
            torch.manual_seed(args.seed)
            with torch.no_grad():
                for p in model.parameters():
                    p.normal_(0.0, 0.02)
        if getattr(model.config, "architectures", None) in (None, []):
            model.config.architectures = [type(model).__name__]
        model.config.dtype = torch_dtype
        origin = ("uninitialised weights (meta + to_empty; values meaningless)" if fill == "none"
                  else f"random N(0, 0.02) weights drawn on {args.device}, torch.manual_seed({args.seed})")
        export_hf.log(f"built {type(model).__name__} on {args.device} in {time.time() - t0:.1f}s ({fill})")
        return model.eval(), origin

    return load_model


def save_graph_only(self, destination, *, include_initializers=True, keep_initializers_as_inputs=False,
                    external_data=None):
    """ONNXProgram.save for `--fill none`: tensors of 1 KiB or more become external references into
    `<model>.data` (4 KiB-aligned offsets) and that file is made sparse at its full length, so no weight byte
    is touched or written (torch's own save copies every tensor through numpy: 16 GB of RAM and minutes for
    an 8B model). make_data.py fills such a file with bytes where the benchmark needs them."""
    import onnx_ir as ir
    model = self.model
    location = os.path.basename(os.fspath(destination)) + ".data"
    base = os.path.dirname(os.path.abspath(destination))
    offset = 0
    for value in model.graph.initializers.values():
        t = value.const_value
        if t is None or t.nbytes < 1024:
            continue
        offset += (-offset) % 4096
        value.const_value = ir.ExternalTensor(location, offset, t.nbytes, t.dtype, shape=t.shape, name=value.name,
                                              base_dir=base)
        offset += t.nbytes
    with open(os.path.join(base, location), "wb") as f:
        f.truncate(offset)
    ir.save(model, destination)


def main():
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--fill", choices=["none", "normal"], default="normal")
    ours, rest = p.parse_known_args()
    export_hf.load_model = make_loader(ours.fill)
    if ours.fill == "none":
        from torch.onnx._internal.exporter._onnx_program import ONNXProgram
        ONNXProgram.save = save_graph_only
    return export_hf.main(rest)


if __name__ == "__main__":
    sys.exit(main())
