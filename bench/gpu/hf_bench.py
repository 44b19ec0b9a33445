#!/usr/bin/env python3
"""HF transformers baselines for bench/gpu: batch-1 greedy decode of a random-weight fp16 model built from a
config JSON, eager (dynamic cache) and static cache (transformers compiles the decode step itself).
Prints one JSON line per (engine, prompt): decode tokens/s, time to first token.
Usage: hf_bench.py CONFIG.json NAME --prompts 32,2048 --new 128 [--engines eager,static]"""
import argparse
import json
import time

import torch
from transformers import AutoConfig, AutoModelForCausalLM, CONFIG_MAPPING


def load(config_path):
    with open(config_path) as f:
        d = json.load(f)
    mt = d.pop("model_type")
    cfg = CONFIG_MAPPING[mt].from_dict(d)
    # Built on the meta device and materialised on the GPU with N(0, 0.02) weights drawn there: a CPU init of
    # an 8B model takes minutes; decode speed does not depend on the values.
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float16, attn_implementation="sdpa")
    model = model.to_empty(device="cuda")
    if hasattr(model, "tie_weights"):
        model.tie_weights()
    for _, mod in model.named_modules():  # RoPE inverse frequencies were computed on the meta device
        if hasattr(mod, "inv_freq") and hasattr(mod, "config"):
            fresh = type(mod)(config=mod.config)
            for buf in ("inv_freq", "original_inv_freq"):
                if hasattr(fresh, buf):
                    setattr(mod, buf, getattr(fresh, buf).to("cuda"))
    torch.manual_seed(0)
    with torch.no_grad():
        for prm in model.parameters():
            prm.normal_(0.0, 0.02)
    return model.eval(), cfg


def timed(fn):
    torch.cuda.synchronize()
    t = time.perf_counter()
    out = fn()
    torch.cuda.synchronize()
    return out, time.perf_counter() - t


def main():
    p = argparse.ArgumentParser()
    p.add_argument("config")
    p.add_argument("name")
    p.add_argument("--prompts", default="32")
    p.add_argument("--new", type=int, default=128)
    p.add_argument("--engines", default="eager,static")
    p.add_argument("--reps", type=int, default=2)
    a = p.parse_args()
    model, cfg = load(a.config)
    weight_bytes = sum(t.numel() * t.element_size() for t in model.parameters())
    for engine in a.engines.split(","):
        for plen in [int(x) for x in a.prompts.split(",")]:
            g = torch.Generator().manual_seed(1)
            ids = torch.randint(0, cfg.vocab_size, (1, plen), generator=g).to("cuda")
            kw = dict(do_sample=False, pad_token_id=0, eos_token_id=None, attention_mask=torch.ones_like(ids))
            if engine == "static":
                kw["cache_implementation"] = "static"

            def gen(n):
                with torch.no_grad():
                    return model.generate(ids, max_new_tokens=n, min_new_tokens=n, **kw)

            try:
                t0 = time.perf_counter()
                gen(a.new)  # warm-up (compiles the static-cache decode step)
                gen(a.new)
                warm = time.perf_counter() - t0
                gen(1)
                ttft = min(timed(lambda: gen(1))[1] for _ in range(a.reps))
                full = min(timed(lambda: gen(a.new))[1] for _ in range(a.reps))
                tps = (a.new - 1) / max(full - ttft, 1e-9)
                row = dict(model=a.name, engine=f"hf-{engine}", prompt=plen, new=a.new, tok_s=tps, ttft_ms=ttft * 1e3,
                           weight_bytes=weight_bytes, warmup_s=warm, device=torch.cuda.get_device_name(0),
                           torch=torch.__version__)
            except Exception as e:  # noqa: BLE001 - report and go on
                row = dict(model=a.name, engine=f"hf-{engine}", prompt=plen, new=a.new, error=f"{type(e).__name__}: {str(e)[:300]}")
            print("BENCH " + json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
