#!/usr/bin/env python3
"""Greedy references from an ONNX causal LM with onnxruntime (CPU), full recompute each step.

The model must take `input_ids` and `position_ids` (int64 [1, seq]) and return `logits` [1, seq, vocab],
as the exports of tools/export_hf.py and fixtures/exports/*.onnx do. Each step runs the whole sequence
again (no KV cache) and appends argmax(logits[0, -1]).

Prompts are deterministic: prompt_n[i] = (i * 37 + 11) % vocab for i < n, positions 0..n-1.

    python3 tools/ort_greedy_refs.py fixtures/exports/llama.dynamo18.onnx \\
        --cross-check fixtures/exports/llama.dynamo23.onnx --out fixtures/exports/llama.greedy.json

Writes prompt_<n> and greedy_<steps>_from_<n> for every n in --prompts, plus what was cross-checked:
the same model with ORT's graph optimisations on, and every --cross-check model (optimisations off).
"""
import argparse
import json
import os
import sys


def prompt_ids(n, vocab):
    """The fixtures' deterministic prompt of length n."""
    return [(i * 37 + 11) % vocab for i in range(n)]


def make_session(path, optimize=False, threads=0):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize
                                   else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    if threads:
        so.intra_op_num_threads = threads
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def vocab_of(session):
    dim = session.get_outputs()[0].shape[-1]
    if not isinstance(dim, int):
        raise ValueError(f"vocab dimension of logits is not static: {dim!r}")
    return dim


def ort_logits(session, ids, positions=None):
    import numpy as np
    x = np.asarray([ids], dtype=np.int64)
    p = np.asarray([positions if positions is not None else list(range(len(ids)))], dtype=np.int64)
    (logits,) = session.run(["logits"], {"input_ids": x, "position_ids": p})
    return logits


def ort_greedy(session, prompt, steps):
    """Greedy tokens, full recompute: each step feeds the whole sequence again."""
    seq = list(prompt)
    out = []
    for _ in range(steps):
        logits = ort_logits(session, seq)
        tok = int(logits[0, -1].astype("float32").argmax())
        out.append(tok)
        seq.append(tok)
    return out


def dump_json(obj, path):
    """One top-level key per line, values compact: small diffs, readable files."""
    body = ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in obj.items())
    with open(path, "w", encoding="utf-8") as f:
        f.write("{\n" + body + "\n}\n")


def first_mismatch(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def main(argv=None):
    import onnxruntime as ort
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="ONNX model (input_ids, position_ids -> logits)")
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--steps", type=int, default=48)
    ap.add_argument("--prompts", default="1,7,64", help="prompt lengths, comma separated (default 1,7,64)")
    ap.add_argument("--cross-check", action="append", default=[], metavar="ONNX",
                    help="another export of the same weights; its greedy tokens are compared")
    args = ap.parse_args(argv)

    lengths = [int(x) for x in args.prompts.split(",") if x]
    sess = make_session(args.model)
    vocab = vocab_of(sess)
    result = {
        "note": f"computed with onnxruntime {ort.__version__} CPU, full recompute each step "
                "(graph optimisations disabled), greedy argmax of the last position",
        "model": os.path.basename(args.model),
        "vocab": vocab,
        "prompt_rule": "prompt_<n>[i] = (i*37 + 11) % vocab, position_ids 0..n-1",
    }
    checks = {}
    for n in lengths:
        prompt = prompt_ids(n, vocab)
        toks = ort_greedy(sess, prompt, args.steps)
        result[f"prompt_{n}"] = prompt
        result[f"greedy_{args.steps}_from_{n}"] = toks
        print(f"{os.path.basename(args.model)} from {n}: {toks}")
    variants = [(os.path.basename(args.model) + " (ORT_ENABLE_ALL)", make_session(args.model, optimize=True))]
    variants += [(os.path.basename(p), make_session(p)) for p in args.cross_check]
    for name, other in variants:
        row = {}
        for n in lengths:
            try:
                toks = ort_greedy(other, result[f"prompt_{n}"], args.steps)
                mm = first_mismatch(toks, result[f"greedy_{args.steps}_from_{n}"])
                row[f"from_{n}"] = "agrees" if mm is None else f"differs from step {mm}: {toks}"
            except Exception as e:  # noqa: BLE001 - recorded, not fatal
                row[f"from_{n}"] = f"failed: {type(e).__name__}: {str(e)[:300]}"
        checks[name] = row
        print(f"cross-check {name}: {row}")
    result["cross_checks"] = checks
    dump_json(result, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
