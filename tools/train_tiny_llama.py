#!/usr/bin/env python3
"""Train the project's small default model: a byte-level BPE tokenizer and a Llama-architecture LM,
from scratch, on the State of the Union corpus (see tools/prep_sotu_data.py).

Runs on one CUDA GPU with plain torch: AdamW, bf16 autocast, linear warm-up then cosine decay. The
addresses are split by index: every 50th (index % 50 == 49) is held out for validation (about 2 %).
The tokenizer is trained on the training addresses only. Addresses are packed into one token stream,
each preceded by <|endoftext|> (id 0, the model's BOS and EOS).

    python3 tools/train_tiny_llama.py --data .carry/sotu/sotu.txt --out .carry/sotu-hf --minutes 4.5

--minutes sets the step count from the measured speed of the first steps (the count is printed; pass it
back with --steps N to repeat a run). The weights kept are those of the lowest validation loss.

Writes to --out a Hugging Face folder: config.json, model.safetensors, generation_config.json,
tokenizer.json, tokenizer_config.json, special_tokens_map.json, train_log.json (settings, losses, timings,
GPU, samples). Export it with tools/export_hf.py <out> --out fixtures/models/sotu-llama.
"""
import argparse
import json
import math
import os
import sys
import time

EOT = "<|endoftext|>"


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="sotu.txt: addresses separated by lines holding <|endoftext|>")
    ap.add_argument("--out", required=True)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--intermediate", type=int, default=688)
    ap.add_argument("--max-pos", type=int, default=512)
    ap.add_argument("--tie", action=argparse.BooleanOptionalAction, default=True,
                    help="tie lm_head to the embedding (default on: keeps the export small)")
    ap.add_argument("--seq", type=int, default=512, help="training context (<= --max-pos)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--min-lr-ratio", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--dropout", type=float, default=0.1,
                    help="training-only dropout on the embedding and on each attention/MLP output (hooks; "
                         "Llama has none of its own, and the corpus is small)")
    ap.add_argument("--minutes", type=float, default=4.5, help="training time budget (ignored with --steps)")
    ap.add_argument("--steps", type=int, help="fixed number of optimiser steps")
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--val-every-nth", type=int, default=50, help="hold out addresses with index %% n == n-1")
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args(argv)


def train_tokenizer(texts, vocab):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, min_frequency=2, special_tokens=[EOT],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    eot = tok.token_to_id(EOT)
    # Encoding a prompt adds the BOS, as Llama tokenizers do; training streams are built without it.
    tok.post_processor = processors.TemplateProcessing(single=f"{EOT} $A", pair=f"{EOT} $A {EOT} $B:1",
                                                       special_tokens=[(EOT, eot)])
    return tok, eot


def save_tokenizer(tok, out, max_pos):
    tok.save(os.path.join(out, "tokenizer.json"))
    cfg = {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": EOT, "eos_token": EOT, "unk_token": None,
           "pad_token": None, "add_bos_token": True, "add_eos_token": False, "model_max_length": max_pos,
           "clean_up_tokenization_spaces": False}
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(out, "special_tokens_map.json"), "w", encoding="utf-8") as f:
        json.dump({"bos_token": EOT, "eos_token": EOT}, f, indent=2)


def add_dropout(model, p):
    """Residual dropout through forward hooks: active in train mode only, not saved with the weights."""
    import torch.nn.functional as F
    if p <= 0:
        return

    def hook(module, _inputs, output):
        if not module.training:
            return output
        if isinstance(output, tuple):
            return (F.dropout(output[0], p, True),) + tuple(output[1:])
        return F.dropout(output, p, True)

    model.model.embed_tokens.register_forward_hook(hook)
    for layer in model.model.layers:
        layer.self_attn.register_forward_hook(hook)
        layer.mlp.register_forward_hook(hook)


def main(argv=None):
    args = parse_args(argv)
    import numpy as np
    import torch
    import torch.nn.functional as F
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    assert torch.cuda.is_available(), "needs a CUDA GPU"
    torch.manual_seed(args.seed)
    dev = torch.device("cuda")
    gpu = torch.cuda.get_device_name(0)
    os.makedirs(args.out, exist_ok=True)
    t_start = time.time()

    with open(args.data, encoding="utf-8") as f:
        texts = [t.strip() for t in f.read().split(EOT) if t.strip()]
    val_idx = {i for i in range(len(texts)) if i % args.val_every_nth == args.val_every_nth - 1}
    train_texts = [t for i, t in enumerate(texts) if i not in val_idx]
    val_texts = [t for i, t in enumerate(texts) if i in val_idx]

    t0 = time.time()
    tok, eot = train_tokenizer(train_texts, args.vocab)
    save_tokenizer(tok, args.out, args.max_pos)
    t_tok = time.time() - t0

    def stream(ts):
        ids = []
        for enc in tok.encode_batch(ts, add_special_tokens=False):
            ids.append(eot)
            ids.extend(enc.ids)
        ids.append(eot)
        return torch.tensor(ids, dtype=torch.int64)

    train_ids, val_ids = stream(train_texts), stream(val_texts)
    chars_per_token = sum(map(len, train_texts)) / len(train_ids)
    print(f"tokenizer: vocab {tok.get_vocab_size()} trained in {t_tok:.1f}s; train {len(train_ids)} tokens "
          f"({len(train_texts)} addresses), val {len(val_ids)} tokens ({len(val_texts)} addresses, "
          f"{100 * len(val_ids) / (len(val_ids) + len(train_ids)):.2f} %), {chars_per_token:.2f} chars/token",
          flush=True)
    train_ids, val_ids = train_ids.to(dev), val_ids.to(dev)

    config = LlamaConfig(vocab_size=tok.get_vocab_size(), hidden_size=args.hidden, intermediate_size=args.intermediate,
                         num_hidden_layers=args.layers, num_attention_heads=args.heads,
                         num_key_value_heads=args.kv_heads, max_position_embeddings=args.max_pos,
                         rms_norm_eps=1e-5, tie_word_embeddings=args.tie, bos_token_id=eot, eos_token_id=eot,
                         pad_token_id=None, attention_dropout=0.0)
    model = LlamaForCausalLM(config).to(dev)
    add_dropout(model, args.dropout)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params} parameters ({n_params / 1e6:.2f} M), {args.layers} layers, hidden {args.hidden}, "
          f"{args.heads} heads / {args.kv_heads} KV heads, tie={args.tie}; GPU {gpu}", flush=True)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95),
                            eps=1e-8, fused=True)
    gen = torch.Generator(device=dev).manual_seed(args.seed)

    def batch():
        starts = torch.randint(0, len(train_ids) - args.seq - 1, (args.batch,), device=dev, generator=gen)
        idx = starts[:, None] + torch.arange(args.seq + 1, device=dev)[None]
        chunk = train_ids[idx]
        return chunk[:, :-1], chunk[:, 1:]

    def loss_of(x, y):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(input_ids=x, use_cache=False).logits
        return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))

    @torch.no_grad()
    def evaluate():
        model.eval()
        n = (len(val_ids) - 1) // args.seq
        x = val_ids[: n * args.seq].view(n, args.seq)
        y = val_ids[1: n * args.seq + 1].view(n, args.seq)
        total = 0.0
        for i in range(0, n, 64):
            total += loss_of(x[i:i + 64], y[i:i + 64]).item() * len(x[i:i + 64])
        model.train()
        return total / n

    def lr_at(step, total):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        progress = min(1.0, (step - args.warmup) / max(1, total - args.warmup))
        return args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))

    def step_once(step, total):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, total)
        x, y = batch()
        loss = loss_of(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    model.train()
    history, best = [], (float("inf"), -1, None)
    total = args.steps or 10 ** 9
    calib_steps = 60
    step, running, running_n = 0, 0.0, 0
    t_train = time.time()
    while step < total:
        loss = step_once(step, total)
        running += loss.item() if step % 10 == 0 else 0.0
        running_n += 1 if step % 10 == 0 else 0
        step += 1
        if args.steps is None and step == 10:
            torch.cuda.synchronize()
            t_calib = time.time()
        if args.steps is None and step == calib_steps:
            torch.cuda.synchronize()
            per_step = (time.time() - t_calib) / (calib_steps - 10)
            eval_share = 1.04  # evaluations every --eval-every steps cost a few percent
            left = args.minutes * 60 - (time.time() - t_train)
            total = max(calib_steps + 1, calib_steps + int(left / (per_step * eval_share)))
            print(f"calibration: {per_step * 1000:.1f} ms/step -> {total} steps for {args.minutes} min "
                  f"({total * args.batch * args.seq / len(train_ids):.1f} epochs)", flush=True)
        if step % args.eval_every == 0 or step == total:
            val = evaluate()
            tr = running / max(1, running_n)
            running, running_n = 0.0, 0
            elapsed = time.time() - t_train
            history.append({"step": step, "train_loss": round(tr, 4), "val_loss": round(val, 4),
                            "lr": lr_at(step - 1, total), "seconds": round(elapsed, 1)})
            print(f"step {step:6d}/{total}  train {tr:.4f}  val {val:.4f}  lr {lr_at(step - 1, total):.2e}  "
                  f"{elapsed:6.1f}s", flush=True)
            if val < best[0]:
                best = (val, step, {k: v.detach().clone() for k, v in model.state_dict().items()})
    torch.cuda.synchronize()
    train_seconds = time.time() - t_train
    final_val = history[-1]["val_loss"]
    model.load_state_dict(best[2])
    model.eval()
    print(f"trained {step} steps in {train_seconds:.1f}s; final val {final_val:.4f}; "
          f"keeping step {best[1]} (val {best[0]:.4f})", flush=True)

    prompt = "The state of the Union is"
    ids = torch.tensor([tok.encode(prompt).ids], device=dev)
    gc_greedy = GenerationConfig(do_sample=False, max_new_tokens=64, eos_token_id=None, pad_token_id=eot)
    gc_sample = GenerationConfig(do_sample=True, temperature=0.8, top_k=40, max_new_tokens=96, eos_token_id=None,
                                 pad_token_id=eot)
    samples = {}
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=gc_greedy)
        samples["greedy_64"] = tok.decode(out[0].tolist())
        torch.manual_seed(args.seed)
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=gc_sample)
        samples["sampled_96_t0.8_top40_seed" + str(args.seed)] = tok.decode(out[0].tolist())
    for k, v in samples.items():
        print(f"--- sample ({k}) ---\n{v}\n", flush=True)

    model.to(torch.float32).cpu().save_pretrained(args.out)
    train_log = {
        "gpu": gpu, "torch": torch.__version__, "args": vars(args), "parameters": n_params,
        "tokenizer": {"vocab": tok.get_vocab_size(), "eot_id": eot, "train_seconds": round(t_tok, 1),
                      "chars_per_token": round(chars_per_token, 3)},
        "data": {"addresses_train": len(train_texts), "addresses_val": len(val_texts),
                 "tokens_train": len(train_ids), "tokens_val": len(val_ids),
                 "val_addresses_index_rule": f"index % {args.val_every_nth} == {args.val_every_nth - 1}"},
        "steps": step, "tokens_per_step": args.batch * args.seq,
        "epochs": round(step * args.batch * args.seq / len(train_ids), 2),
        "train_seconds": round(train_seconds, 1), "total_seconds": round(time.time() - t_start, 1),
        "final_val_loss": final_val, "final_train_loss": history[-1]["train_loss"],
        "kept_step": best[1], "kept_val_loss": round(best[0], 4), "history": history, "samples": samples,
    }
    with open(os.path.join(args.out, "train_log.json"), "w", encoding="utf-8") as f:
        json.dump(train_log, f, indent=1)
    print(json.dumps({k: v for k, v in train_log.items() if k not in ("history", "samples", "args")}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
