#!/usr/bin/env python3
"""Export a Hugging Face causal LM to ONNX for onnx-lower.

The model is exported with torch.onnx.export(dynamo=True) as a function of two int64 inputs,
`input_ids` and `position_ids` [batch, seq], to one output `logits` [batch, seq, vocab]; it runs
with use_cache=False (onnx-lower adds the KV cache itself). seq is dynamic (2..max positions);
batch is dynamic when the exporter manages it (--batch dynamic, the default), else 1.

The output folder holds:
  model.onnx            node metadata_props (the exporter's stack traces, which name absolute paths of
                        the exporting machine) and doc strings stripped
  model.onnx.data       external weights, when the weights exceed 1 GB or with --external-data
  config.json           the Hugging Face config
  tokenizer files       copied when the source has them (tokenizer.json, tokenizer_config.json, ...)
  ref.json              with --ref: PyTorch references (see below)

ref.json keys: input_ids, position_ids ([1, n], n = --ref-len or the tokenized --prompt), logits_shape,
logits (flattened), greedy_16 (16 tokens that transformers' generate() continues the prompt with:
greedy, KV cache on, no EOS stop), config, export (how it was exported and what was checked).
With --ref-long also prompt_<n> and greedy_48_from_<n> for n in 1, 7, 64, where
prompt_<n>[i] = (i*37 + 11) % vocab and positions are 0..n-1.
"""
import argparse
import json
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

EXAMPLES = """examples:
  # a tiny random llama (GQA 4:2), opset 23, with PyTorch references
  python3 tools/export_hf.py --arch llama --hidden-size 64 --layers 2 --heads 4 --kv-heads 2 \\
      --vocab 256 --intermediate 128 --seed 0 --ref --out out/llama-tiny

  # the config of an existing ref.json (its "config" key), eager attention, opset 18
  python3 tools/export_hf.py --config fixtures/exports/llama.ref.json --attn eager --opset 18 --ref \\
      --out out/llama-eager18

  # a hub model or a local folder (weights as saved); fp16 on the GPU
  python3 tools/export_hf.py Qwen/Qwen2.5-0.5B --dtype fp16 --device cuda --out out/qwen2.5-0.5b

  # only the hub model's shapes, random weights
  python3 tools/export_hf.py meta-llama/Llama-3.2-1B --random-weights --dtype fp16 --out out/llama-1b
"""

TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json",
                   "merges.txt", "tokenizer.model", "added_tokens.json", "chat_template.jinja",
                   "generation_config.json"]

# Config attribute of each override, per model type (gpt2 names its fields differently).
OVERRIDE_FIELDS = {
    "default": {"hidden_size": "hidden_size", "layers": "num_hidden_layers", "heads": "num_attention_heads",
                "kv_heads": "num_key_value_heads", "vocab": "vocab_size", "intermediate": "intermediate_size",
                "max_pos": "max_position_embeddings", "head_dim": "head_dim"},
    "gpt2": {"hidden_size": "n_embd", "layers": "n_layer", "heads": "n_head", "vocab": "vocab_size",
             "intermediate": "n_inner", "max_pos": "n_positions"},
}
# --arch defaults: the project's tiny fixtures (2 layers, hidden 64, 4 heads, 2 KV heads, vocab 256).
ARCH_DEFAULTS = {"hidden_size": 64, "layers": 2, "heads": 4, "kv_heads": 2, "vocab": 256, "intermediate": 128,
                 "max_pos": 256}

LONG_PROMPTS = (1, 7, 64)
LONG_STEPS = 48
PATH_MARKERS = [b"/home/", b"/root/", b"/opt/", b"/usr/", b"/tmp/", b"/work/", b"site-packages", b"C:\\"]


def build_parser():
    p = argparse.ArgumentParser(prog="export_hf.py", description=__doc__, epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_argument_group("source (give exactly one)")
    src.add_argument("model", nargs="?", help="hub name (org/name) or local folder with config.json and weights")
    src.add_argument("--config", help="config JSON: a Hugging Face config.json, or a ref.json whose 'config' key "
                                      "holds one; random weights")
    src.add_argument("--arch", choices=["llama", "qwen2", "gpt2"],
                     help="build a config from scratch (defaults: hidden 64, 2 layers, 4 heads, 2 KV heads, "
                          "vocab 256, intermediate 128, max positions 256); random weights")
    src.add_argument("--random-weights", action="store_true",
                     help="with a hub name or folder: take only its config, initialise weights randomly")
    ov = p.add_argument_group("config overrides (with --arch, --config or --random-weights)")
    ov.add_argument("--hidden-size", type=int)
    ov.add_argument("--layers", type=int)
    ov.add_argument("--heads", type=int, help="attention (query) heads")
    ov.add_argument("--kv-heads", type=int, help="key/value heads (GQA); not for gpt2")
    ov.add_argument("--head-dim", type=int, help="default: hidden size / heads")
    ov.add_argument("--vocab", type=int)
    ov.add_argument("--intermediate", type=int, help="MLP width (gpt2: n_inner)")
    ov.add_argument("--max-pos", type=int, help="max position embeddings")
    ov.add_argument("--tie", dest="tie", action="store_true", default=None, help="tie lm_head to the embedding")
    ov.add_argument("--no-tie", dest="tie", action="store_false")
    ex = p.add_argument_group("export")
    ex.add_argument("--out", required=True, help="output folder (created)")
    ex.add_argument("--seed", type=int, default=0, help="torch seed for random weights and reference ids (default 0)")
    ex.add_argument("--opset", type=int, choices=[18, 23], default=23,
                    help="23: the exporter emits Attention/RMSNormalization; 18: decomposed (default 23)")
    ex.add_argument("--dtype", choices=["fp32", "fp16"], default="fp32")
    ex.add_argument("--attn", choices=["sdpa", "eager"], default="sdpa",
                    help="transformers attn_implementation traced by the exporter (default sdpa)")
    ex.add_argument("--batch", choices=["dynamic", "1"], default="dynamic",
                    help="dynamic: try a dynamic batch dimension, fall back to 1 if the export fails (default)")
    ex.add_argument("--external-data", action="store_true",
                    help="weights in model.onnx.data (automatic above 1 GB of weights)")
    ex.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                    help="where the model runs for export and references (default cpu)")
    ex.add_argument("--trust-remote-code", action="store_true")
    rf = p.add_argument_group("references")
    rf.add_argument("--ref", action="store_true", help="write ref.json with PyTorch references")
    rf.add_argument("--ref-long", action="store_true",
                    help="also greedy_48_from_{1,7,64} (implies --ref), checked against onnxruntime")
    rf.add_argument("--ref-len", type=int, default=8, help="length of the random reference prompt (default 8)")
    rf.add_argument("--ref-inputs", metavar="REF_JSON", help="reuse input_ids/position_ids of this ref.json")
    rf.add_argument("--prompt", help="reference prompt as text (needs tokenizer.json in the source)")
    rf.add_argument("--no-ort-check", action="store_true", help="skip the onnxruntime comparison")
    return p


def log(msg):
    print(f"[export_hf] {msg}", flush=True)


# ---------------------------------------------------------------- config and model

def overrides_of(args):
    names = ["hidden_size", "layers", "heads", "kv_heads", "head_dim", "vocab", "intermediate", "max_pos"]
    return {k: getattr(args, k) for k in names if getattr(args, k) is not None}


def apply_overrides(d, model_type, ov, tie):
    """Write overrides into a config dict; keep derived fields (head_dim, layer_types) consistent."""
    fields = OVERRIDE_FIELDS.get(model_type, OVERRIDE_FIELDS["default"])
    for key, value in ov.items():
        if key not in fields:
            raise SystemExit(f"--{key.replace('_', '-')} is not supported for model_type {model_type}")
        d[fields[key]] = value
    if model_type != "gpt2" and "head_dim" not in ov and ({"hidden_size", "heads"} & ov.keys()):
        d.pop("head_dim", None)  # recomputed as hidden_size // heads by the config class
    if "layers" in ov:
        d.pop("layer_types", None)
    if tie is not None:
        d["tie_word_embeddings"] = tie


def load_config(args):
    from transformers import AutoConfig, CONFIG_MAPPING
    ov = overrides_of(args)
    if args.arch:
        d = {"model_type": args.arch}
        defaults = dict(ARCH_DEFAULTS)
        if args.arch == "gpt2":
            defaults.pop("kv_heads")
            defaults.pop("intermediate")  # n_inner None: 4 * hidden, as GPT-2 does
        defaults.update(ov)
        apply_overrides(d, args.arch, defaults, args.tie)
    elif args.config:
        with open(args.config, encoding="utf-8") as f:
            d = json.load(f)
        if isinstance(d.get("config"), dict) and "model_type" in d["config"]:
            d = d["config"]
        if "model_type" not in d:
            raise SystemExit(f"{args.config}: no model_type")
        apply_overrides(d, d["model_type"], ov, args.tie)
    else:
        cfg = AutoConfig.from_pretrained(args.model, trust_remote_code=args.trust_remote_code)
        if not (ov or args.tie is not None):
            return cfg
        if not args.random_weights:
            raise SystemExit("config overrides change the shapes: use them with --random-weights")
        d = cfg.to_dict()
        apply_overrides(d, d["model_type"], ov, args.tie)
    d = {k: v for k, v in d.items() if k not in ("transformers_version", "_name_or_path")}
    model_type = d.pop("model_type")
    return CONFIG_MAPPING[model_type].from_dict(d)


def load_model(args, config, torch_dtype):
    import torch
    from transformers import AutoModelForCausalLM
    if args.model and not args.random_weights:
        model = AutoModelForCausalLM.from_pretrained(args.model, config=config, dtype=torch_dtype,
                                                     attn_implementation=args.attn,
                                                     trust_remote_code=args.trust_remote_code)
        origin = "pretrained weights"
    else:
        # Initialise in fp32 on the CPU, then cast: the same seed gives the same weights on any device,
        # and an fp16 model is the rounding of the fp32 one.
        torch.manual_seed(args.seed)
        model = AutoModelForCausalLM.from_config(config, attn_implementation=args.attn, dtype=torch.float32,
                                                 trust_remote_code=args.trust_remote_code)
        model = model.to(torch_dtype)
        origin = f"random weights, torch.manual_seed({args.seed}) before from_config"
    if getattr(model.config, "architectures", None) in (None, []):
        model.config.architectures = [type(model).__name__]
    model.config.dtype = torch_dtype
    return model.eval().to(args.device), origin


def wrap_logits_only(model):
    """input_ids, position_ids -> logits, without a cache. The model sits in attribute `m`, as in the
    reference exports, so initializer names read m.model.layers.0...."""
    import torch

    class LogitsOnly(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, position_ids):
            return self.m(input_ids=input_ids, position_ids=position_ids, use_cache=False).logits

    return LogitsOnly(model).eval()


# ---------------------------------------------------------------- export

def export_onnx(wrapper, config, args, path, external):
    """torch.onnx.export(dynamo=True); tries a dynamic batch first when asked. Returns (batch_dynamic, notes)."""
    import torch
    from torch.export import Dim
    max_pos = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None) or 4096
    vocab = config.vocab_size
    notes = []
    attempts = ["dynamic", "1"] if args.batch == "dynamic" else ["1"]
    for mode in attempts:
        batch = 2 if mode == "dynamic" else 1
        gen = torch.Generator().manual_seed(args.seed)
        ids = torch.randint(0, vocab, (batch, 8), generator=gen).to(args.device)
        pos = torch.arange(8, device=args.device).unsqueeze(0).expand(batch, 8).contiguous()
        seq = Dim("seq", min=2, max=max_pos)
        dims = {1: seq}
        if mode == "dynamic":
            dims[0] = Dim("batch", min=1, max=1024)
        dynamic_shapes = {"input_ids": dict(dims), "position_ids": dict(dims)}
        t0 = time.time()
        try:
            prog = torch.onnx.export(wrapper, (ids, pos), dynamo=True, opset_version=args.opset,
                                     input_names=["input_ids", "position_ids"], output_names=["logits"],
                                     dynamic_shapes=dynamic_shapes, optimize=True, verify=False, report=False)
        except Exception as e:  # noqa: BLE001 - a dynamic batch may not export; fall back
            msg = f"export with batch={mode} failed: {type(e).__name__}: {str(e).splitlines()[0][:400]}"
            log(msg)
            notes.append(msg)
            if mode == attempts[-1]:
                raise
            continue
        dim0 = prog.model_proto.graph.input[0].type.tensor_type.shape.dim[0]
        batch_dynamic = dim0.HasField("dim_param")
        if mode == "dynamic" and not batch_dynamic:
            msg = f"asked for a dynamic batch, the exporter specialised it to {dim0.dim_value}; re-exporting with 1"
            log(msg)
            notes.append(msg)
            continue
        log(f"exported (batch={'dynamic' if batch_dynamic else 1}, opset {args.opset}) in {time.time() - t0:.1f}s")
        prog.save(path, external_data=external)
        return batch_dynamic, notes
    raise RuntimeError("no export succeeded")


def strip_and_save(path, provenance):
    """Drop node metadata_props and doc strings (stack traces with absolute paths), in subgraphs and
    functions too; keep weights where they are (external data stays external)."""
    import onnx
    model = onnx.load(path, load_external_data=False)

    def strip_graph(g):
        g.doc_string = ""
        del g.metadata_props[:]
        for seq in (g.input, g.output, g.value_info, g.initializer):
            for v in seq:
                v.doc_string = ""
                del v.metadata_props[:]
        for n in g.node:
            strip_node(n)

    def strip_node(n):
        n.doc_string = ""
        del n.metadata_props[:]
        for a in n.attribute:
            a.doc_string = ""
            if a.HasField("g"):
                strip_graph(a.g)
            for sub in a.graphs:
                strip_graph(sub)

    strip_graph(model.graph)
    for fn in model.functions:
        fn.doc_string = ""
        del fn.metadata_props[:]
        for n in fn.node:
            strip_node(n)
    model.doc_string = ""
    del model.metadata_props[:]
    for k, v in provenance.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, str(v)
    onnx.save_model(model, path)
    leaks = path_like_strings(model)
    if leaks:
        log(f"WARNING: {path} still contains path-like strings {leaks} (names, attributes or metadata)")
    return model


def path_like_strings(model):
    """Path markers in everything but numeric tensor payloads (random weight bytes can spell 'C:\\')."""
    import onnx
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    numeric = ("raw_data", "float_data", "int32_data", "int64_data", "double_data", "uint64_data")

    def clear_graph(g):
        for t in g.initializer:
            for field in numeric:
                t.ClearField(field)
        for n in g.node:
            clear_node(n)

    def clear_node(n):
        for a in n.attribute:
            for t in ([a.t] if a.HasField("t") else []) + list(a.tensors):
                for field in numeric:
                    t.ClearField(field)
            if a.HasField("g"):
                clear_graph(a.g)
            for sub in a.graphs:
                clear_graph(sub)

    clear_graph(probe.graph)
    for fn in probe.functions:
        for n in fn.node:
            clear_node(n)
    blob = probe.SerializeToString()
    return sorted({m.decode(errors="replace") for m in PATH_MARKERS if m in blob})


def op_counts(model):
    counts = {}

    def walk(g):
        for n in g.node:
            key = n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}::{n.op_type}"
            counts[key] = counts.get(key, 0) + 1
            for a in n.attribute:
                if a.HasField("g"):
                    walk(a.g)
                for sub in a.graphs:
                    walk(sub)

    walk(model.graph)
    return dict(sorted(counts.items()))


def io_signature(model):
    def shape(v):
        t = v.type.tensor_type
        return [d.dim_param if d.HasField("dim_param") else d.dim_value for d in t.shape.dim]

    import onnx
    return {v.name: {"dtype": onnx.TensorProto.DataType.Name(v.type.tensor_type.elem_type), "shape": shape(v)}
            for v in list(model.graph.input) + list(model.graph.output)}


def copy_tokenizer_files(args, out):
    src = None
    if args.model and os.path.isdir(args.model):
        src = args.model
    elif args.model:
        try:
            from huggingface_hub import snapshot_download
            src = snapshot_download(args.model, allow_patterns=TOKENIZER_FILES)
        except Exception as e:  # noqa: BLE001 - offline or gated: no tokenizer, not fatal
            log(f"no tokenizer files fetched for {args.model}: {type(e).__name__}")
    copied = []
    if src:
        for name in TOKENIZER_FILES:
            if os.path.isfile(os.path.join(src, name)):
                shutil.copyfile(os.path.join(src, name), os.path.join(out, name))
                copied.append(name)
    return copied


# ---------------------------------------------------------------- references

def hf_greedy(model, prompt, steps, device):
    """Tokens that transformers' generate() continues `prompt` with: greedy, KV cache, no EOS stop."""
    import torch
    from transformers import GenerationConfig
    gc = GenerationConfig(do_sample=False, num_beams=1, max_new_tokens=steps, min_new_tokens=steps,
                          eos_token_id=None, bos_token_id=None, pad_token_id=0, use_cache=True)
    saved = model.generation_config
    model.generation_config = gc  # so that no default EOS of the model is merged back in
    try:
        ids = torch.tensor([prompt], dtype=torch.long, device=device)
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=gc)
    finally:
        model.generation_config = saved
    toks = out[0, len(prompt):].tolist()
    if len(toks) != steps:
        raise RuntimeError(f"generate returned {len(toks)} tokens, expected {steps}")
    return toks


def torch_greedy_full(wrapper, prompt, steps, device):
    import torch
    seq = list(prompt)
    with torch.no_grad():
        for _ in range(steps):
            x = torch.tensor([seq], dtype=torch.long, device=device)
            p = torch.arange(len(seq), device=device).unsqueeze(0)
            seq.append(int(wrapper(x, p)[0, -1].float().argmax()))
    return seq[len(prompt):]


def fmt_floats(values):
    return [float(f"{v:.9g}") for v in values]  # 9 significant digits round-trip float32


def main(argv=None):
    args = build_parser().parse_args(argv)
    if sum(x is not None and x is not False for x in (args.model, args.config, args.arch)) != 1:
        raise SystemExit("give exactly one source: a model name/folder, --config or --arch")
    if args.random_weights and not args.model:
        raise SystemExit("--random-weights goes with a model name or folder")
    if args.ref_long:
        args.ref = True

    import numpy as np
    import torch
    import transformers
    import onnx
    from ort_greedy_refs import prompt_ids, make_session, ort_logits, ort_greedy, first_mismatch, dump_json

    torch_dtype = {"fp32": torch.float32, "fp16": torch.float16}[args.dtype]
    os.makedirs(args.out, exist_ok=True)
    config = load_config(args)
    model, origin = load_model(args, config, torch_dtype)
    wrapper = wrap_logits_only(model)
    n_params = sum(p.numel() for p in model.parameters())
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    external = args.external_data or weight_bytes > (1 << 30)
    log(f"{config.model_type}: {n_params} parameters ({weight_bytes / 1e6:.1f} MB, {args.dtype}), {origin}, "
        f"attn={args.attn}, device={args.device}")

    model_path = os.path.join(args.out, "model.onnx")
    for stale in (model_path, model_path + ".data"):
        if os.path.exists(stale):
            os.remove(stale)
    batch_dynamic, notes = export_onnx(wrapper, config, args, model_path, external)
    source = (os.path.basename(os.path.normpath(args.model)) if args.model else
              os.path.basename(args.config) if args.config else f"--arch {args.arch}")
    provenance = {"onnx_lower.exporter": "tools/export_hf.py", "onnx_lower.source": source,
                  "onnx_lower.weights": origin, "onnx_lower.attn": args.attn, "onnx_lower.dtype": args.dtype,
                  "torch": torch.__version__, "transformers": transformers.__version__}
    proto = strip_and_save(model_path, provenance)
    if not external and os.path.exists(model_path + ".data"):
        os.remove(model_path + ".data")
    model.config.save_pretrained(args.out)
    tok_files = copy_tokenizer_files(args, args.out)
    sizes = {f: os.path.getsize(os.path.join(args.out, f)) for f in sorted(os.listdir(args.out))}
    log(f"wrote {sizes}")
    if not args.ref:
        return 0

    # Reference prompt: text, reused ids, or seeded random ids.
    prompt_text = None
    if args.ref_inputs:
        with open(args.ref_inputs, encoding="utf-8") as f:
            r = json.load(f)
        ids, pos = r["input_ids"][0], r["position_ids"][0]
    elif args.prompt:
        from tokenizers import Tokenizer
        tok_path = os.path.join(args.out, "tokenizer.json")
        if not os.path.exists(tok_path):
            raise SystemExit("--prompt needs tokenizer.json in the source")
        tokenizer = Tokenizer.from_file(tok_path)
        prompt_text = args.prompt
        ids = tokenizer.encode(args.prompt).ids
        pos = list(range(len(ids)))
    else:
        gen = torch.Generator().manual_seed(args.seed + 1)
        ids = torch.randint(0, config.vocab_size, (args.ref_len,), generator=gen).tolist()
        pos = list(range(len(ids)))

    dev = args.device
    with torch.no_grad():
        logits = wrapper(torch.tensor([ids], device=dev), torch.tensor([pos], device=dev)).float().cpu().numpy()
    ref = {"input_ids": [ids], "position_ids": [pos]}
    if prompt_text is not None:
        ref["prompt"] = prompt_text
    ref["logits_shape"] = list(logits.shape)
    ref["logits"] = fmt_floats(logits.reshape(-1).tolist())
    ref["greedy_16"] = hf_greedy(model, ids, 16, dev)
    checks = {"greedy_16_torch_full_recompute": "agrees" if torch_greedy_full(wrapper, ids, 16, dev) ==
              ref["greedy_16"] else "differs"}
    if prompt_text is not None:
        ref["greedy_16_text"] = tokenizer.decode(ref["greedy_16"])
    if args.ref_long:
        for n in LONG_PROMPTS:
            p = prompt_ids(n, config.vocab_size)
            ref[f"prompt_{n}"] = p
            ref[f"greedy_{LONG_STEPS}_from_{n}"] = hf_greedy(model, p, LONG_STEPS, dev)
            full = torch_greedy_full(wrapper, p, LONG_STEPS, dev)
            mm = first_mismatch(full, ref[f"greedy_{LONG_STEPS}_from_{n}"])
            checks[f"greedy_{LONG_STEPS}_from_{n}_torch_full_recompute"] = (
                "agrees" if mm is None else f"differs from step {mm}")

    if not args.no_ort_check:
        import onnxruntime as ort
        try:
            sess = make_session(model_path)
            got = ort_logits(sess, ids, pos).astype(np.float32)
            checks["ort_logits_max_abs_diff"] = float(np.abs(got - logits).max())
            if batch_dynamic:
                other = prompt_ids(len(ids), config.vocab_size)
                two = sess.run(["logits"], {"input_ids": np.asarray([ids, other], np.int64),
                                            "position_ids": np.asarray([pos, pos], np.int64)})[0]
                one = ort_logits(sess, other, pos)
                checks["ort_batch2_vs_batch1_max_abs_diff"] = float(max(
                    np.abs(two[0:1].astype(np.float32) - got).max(),
                    np.abs(two[1:2].astype(np.float32) - one.astype(np.float32)).max()))
            if args.ref_long:
                for n in LONG_PROMPTS:
                    key = f"greedy_{LONG_STEPS}_from_{n}"
                    try:
                        toks = ort_greedy(sess, ref[f"prompt_{n}"], LONG_STEPS)
                        mm = first_mismatch(toks, ref[key])
                        checks[f"{key}_ort_full_recompute"] = "agrees" if mm is None else \
                            f"differs from step {mm}: {toks}"
                    except Exception as e:  # noqa: BLE001
                        checks[f"{key}_ort_full_recompute"] = f"failed: {type(e).__name__}: {str(e)[:300]}"
            checks["onnxruntime"] = ort.__version__ + " CPU, graph optimisations disabled"
        except Exception as e:  # noqa: BLE001 - e.g. an op without a CPU kernel for this dtype
            checks["onnxruntime"] = f"failed: {type(e).__name__}: {str(e)[:400]}"
    log(f"checks: {checks}")

    ref["config"] = json.loads(model.config.to_json_string(use_diff=False))
    ref["export"] = {
        "tool": "tools/export_hf.py", "argv": [os.path.basename(a) if os.path.isabs(a) else a
                                                 for a in (sys.argv[1:] if argv is None else argv)],
        "source": source, "weights": origin, "parameters": n_params, "opset": args.opset, "dtype": args.dtype,
        "attn_implementation": args.attn, "batch_dynamic": batch_dynamic, "device": args.device,
        "external_data": external, "notes": notes, "io": io_signature(proto), "op_counts": op_counts(proto),
        "tokenizer_files": tok_files, "torch": torch.__version__, "transformers": transformers.__version__,
        "onnx": onnx.__version__, "checks": checks,
    }
    dump_json(ref, os.path.join(args.out, "ref.json"))
    log(f"wrote ref.json (greedy_16 {ref['greedy_16']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
