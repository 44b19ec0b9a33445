#!/usr/bin/env python3
"""Compiler-at-scale benchmark harness: runs each tool on one model in its own process and measures wall time
and peak RSS of that process (os.wait4's ru_maxrss), one tool at a time.

  bench.py run --model DIR/model.onnx --label NAME --json OUT.json [--node NODE] [--cli CLI]
               [--steps a,b,...] [--deadline EPOCH_SECONDS] [--work DIR]
  bench.py table OUT.json [OUT2.json ...]        markdown table and ratios of finished runs

Steps (default order = priority; a step is skipped when the deadline would not leave it its estimate):
  lower-ref       onnx-lower lower --pipeline llm --cache static_v2 --reference-external-data (no weight copy)
  lower-ref-nv    the same with --no-verify (verify() after every pass is on by default)
  serde-ref       onnx-lower lower --passes none --reference-external-data (load + save only)
  lower-copy      onnx-lower lower --pipeline llm --cache static_v2 --external-data (weights copied by range)
  onnx_ir-ref     Python onnx_ir load + save, external tensors referenced
  onnx_ir-copy    Python onnx_ir load + save(external_data=...), weights copied
  onnxscript-ref  Python onnx_ir load + onnxscript optimize + rewrite + ort_fusions.optimize_for_ort + save (ref)
Outputs of *-ref steps sit next to the model (they reference its data file); *-copy outputs go to --work and are
deleted after the step. Nothing here reads weights except the copies themselves.
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

STEP_ORDER = ["lower-ref", "lower-ref-nv", "serde-ref", "lower-copy", "onnx_ir-ref", "onnx_ir-copy", "onnxscript-ref"]


def step_argv(step, args, model, work):
    d = os.path.dirname(model)
    node_cli = [args.node, "--max-old-space-size=8192", args.cli, "lower", model]
    llm = ["--pipeline", "llm", "--cache", "static_v2", "--report"]
    py = [sys.executable, os.path.join(HERE, "py_baseline.py")]
    return {
        "lower-ref": node_cli + ["-o", os.path.join(d, "lowered-ref.onnx"), *llm, "--reference-external-data"],
        "lower-ref-nv": node_cli + ["-o", os.path.join(d, "lowered-ref-nv.onnx"), *llm, "--reference-external-data", "--no-verify"],
        "serde-ref": node_cli + ["-o", os.path.join(d, "serde-ref.onnx"), "--passes", "none", "--reference-external-data", "--report"],
        "lower-copy": node_cli + ["-o", os.path.join(work, "lowered.onnx"), *llm, "--external-data"],
        "onnx_ir-ref": py + ["onnx_ir-ref", model, os.path.join(d, "onnx_ir-ref.onnx")],
        "onnx_ir-copy": py + ["onnx_ir-copy", model, os.path.join(work, "onnx_ir.onnx")],
        "onnxscript-ref": py + ["onnxscript-ref", model, os.path.join(d, "onnxscript-ref.onnx")],
    }[step]


def run_measured(argv, timeout, log_prefix):
    """Runs argv; returns (rc, wall_s, peak_rss_mb, stdout, stderr_tail). rc None when killed at the timeout."""
    out_path, err_path = log_prefix + ".out", log_prefix + ".err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err)
        rc = None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                rc = os.waitstatus_to_exitcode(status)
                break
            if time.perf_counter() - t0 > timeout:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
        wall = time.perf_counter() - t0
        proc.returncode = rc if rc is not None else -9  # reaped: keep Popen from waiting again
    peak_mb = usage.ru_maxrss / 1024  # Linux: kilobytes
    with open(out_path, "rb") as f:
        stdout = f.read().decode(errors="replace")
    with open(err_path, "rb") as f:
        stderr = f.read().decode(errors="replace")
    return rc, wall, peak_mb, stdout, stderr[-3000:]


def parse_child_json(stdout):
    """The onnx-lower --report JSON (a multi-line object) or the baseline's JSON line."""
    s = stdout.strip()
    if not s:
        return None
    try:
        return json.loads(s)
    except ValueError:
        pass
    for line in reversed(s.splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return None


def data_bytes(model):
    d = os.path.dirname(model)
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".data") and f.startswith("model"))


def cmd_run(args):
    model = os.path.abspath(args.model)
    work = os.path.abspath(args.work or os.path.join(os.path.dirname(model), "work"))
    os.makedirs(work, exist_ok=True)
    logs = os.path.join(os.path.dirname(os.path.abspath(args.json)), "logs")
    os.makedirs(logs, exist_ok=True)
    steps = args.steps.split(",") if args.steps else STEP_ORDER
    estimates = json.loads(args.estimates) if args.estimates else {}
    result = {"label": args.label, "model": os.path.basename(model), "model_bytes": os.path.getsize(model),
              "data_bytes": data_bytes(model), "host": host_info(args), "steps": {}}
    if os.path.exists(args.json):
        with open(args.json) as f:
            old = json.load(f)
        if old.get("label") == args.label:
            result["steps"] = old.get("steps", {})

    def save():
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)

    for step in steps:
        left = (args.deadline - time.time()) if args.deadline else 1e9
        need = float(estimates.get(step, 0))
        if left < need:
            result["steps"][step] = {"skipped": f"deadline: {left:.0f}s left, step needs about {need:.0f}s"}
            print(f"[bench] {args.label} {step}: skipped ({left:.0f}s left < {need:.0f}s)", flush=True)
            save()
            continue
        argv = step_argv(step, args, model, work)
        timeout = max(5.0, min(args.step_timeout, left))
        rc, wall, peak, stdout, stderr = run_measured(argv, timeout, os.path.join(logs, f"{args.label}.{step}"))
        entry = {"rc": rc, "wall_s": round(wall, 3), "peak_rss_mb": round(peak, 1)}
        if rc is None:
            entry["timed_out_after_s"] = round(timeout, 1)
        child = parse_child_json(stdout)
        if isinstance(child, dict):
            if "passes" in child:
                entry["passes_ms"] = {p["name"] + (f"#{p['iteration']}" if p.get("iteration") else ""): p["ms"] for p in child["passes"]}
                entry["passes_total_ms"] = round(sum(p["ms"] for p in child["passes"]), 1)
                if "timing" in child:
                    entry["timing"] = child["timing"]
            if "phases" in child:
                entry["phases"] = {k: round(v, 3) for k, v in child["phases"].items()}
                for k in ("nodes_before", "nodes_after", "fusions", "onnx_ir", "onnxscript"):
                    if k in child:
                        entry[k] = child[k]
        if rc != 0:
            entry["stderr_tail"] = stderr[-1500:]
        elif step.startswith("lower") and "progress" not in entry:
            entry["stderr_lines"] = stderr.strip().splitlines()[-3:]
        result["steps"][step] = entry
        print(f"[bench] {args.label} {step}: rc={rc} wall={wall:.2f}s peak={peak:.0f}MB"
              + (f" passes={entry.get('passes_total_ms')}ms" if "passes_total_ms" in entry else "")
              + (f" phases={entry.get('phases')}" if "phases" in entry else "")
              + ("" if rc == 0 else f"\n{stderr[-800:]}"), flush=True)
        save()
        if step.endswith("-copy"):
            shutil.rmtree(work, ignore_errors=True)
            os.makedirs(work, exist_ok=True)
    return 0


def host_info(args):
    info = {"python": platform.python_version(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        info["gpu"] = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                     text=True, timeout=20).stdout.strip().splitlines()[0]
    except Exception:  # noqa: BLE001 - no GPU here
        info["gpu"] = "none"
    try:
        info["node"] = subprocess.run([args.node, "--version"], capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:  # noqa: BLE001
        pass
    build = os.path.join(os.path.dirname(os.path.abspath(args.cli)), "BUILD_INFO.json")
    if os.path.exists(build):
        with open(build) as f:
            info["onnx_lower_build"] = json.load(f)
    return info


# ------------------------------------------------------------------------------------------------ table

def fmt_s(x):
    return "–" if x is None else (f"{x:.2f} s" if x < 100 else f"{x:.0f} s")


def fmt_mb(x):
    return "–" if x is None else f"{x:.0f} MB"


def cmd_table(args):
    rows = []
    for path in args.json:
        with open(path) as f:
            r = json.load(f)
        s = r["steps"]
        ok = lambda k: s.get(k) if s.get(k, {}).get("rc") == 0 else None  # noqa: E731
        g = lambda k, f: (ok(k) or {}).get(f)  # noqa: E731
        wall = lambda k: g(k, "wall_s")  # noqa: E731
        rows.append((r, s, ok, g, wall))
    out = []
    out.append("| model | tool | wall | peak RSS | notes |")
    out.append("| --- | --- | --- | --- | --- |")
    names = {
        "lower-ref": "onnx-lower `lower --pipeline llm --cache static_v2 --reference-external-data`",
        "lower-ref-nv": "  … with `--no-verify`",
        "serde-ref": "onnx-lower `lower --passes none --reference-external-data` (load + save)",
        "lower-copy": "onnx-lower `lower --pipeline llm --cache static_v2 --external-data` (weights copied)",
        "onnx_ir-ref": "onnx_ir load + save (references kept)",
        "onnx_ir-copy": "onnx_ir load + save(external_data=…) (weights copied)",
        "onnxscript-ref": "onnx_ir load + onnxscript optimize + rewrite + optimize_for_ort + save (references kept)",
    }
    for r, s, ok, g, wall in rows:
        label = f"{r['label']} ({r['data_bytes'] / 1e9:.1f} GB weights)"
        for k in STEP_ORDER:
            e = s.get(k)
            if e is None:
                continue
            if "skipped" in e:
                out.append(f"| {label} | {names[k]} | – | – | skipped ({e['skipped']}) |")
                continue
            notes = []
            if e.get("rc") != 0:
                notes.append("timed out" if e.get("rc") is None else f"failed (rc {e.get('rc')})")
            if "passes_total_ms" in e and k != "serde-ref":
                notes.append(f"passes {e['passes_total_ms'] / 1000:.2f} s")
            if "phases" in e:
                notes.append(", ".join(f"{p} {v:.2f} s" for p, v in e["phases"].items()))
            if "nodes_before" in e:
                notes.append(f"nodes {e['nodes_before']} → {e.get('nodes_after')}")
            out.append(f"| {label} | {names[k]} | {fmt_s(e.get('wall_s'))} | {fmt_mb(e.get('peak_rss_mb'))} | {'; '.join(notes)} |")
    out.append("")
    for r, s, ok, g, wall in rows:
        ratios = []
        if wall("lower-ref") and wall("onnxscript-ref"):
            ratios.append(f"onnx_ir+onnxscript / onnx-lower llm, no weight copy: {wall('onnxscript-ref') / wall('lower-ref'):.1f}× wall, "
                          f"{g('onnxscript-ref', 'peak_rss_mb') / g('lower-ref', 'peak_rss_mb'):.1f}× peak RSS")
        if wall("lower-ref") and wall("onnx_ir-ref"):
            ratios.append(f"onnx_ir load+save / onnx-lower llm (both referencing weights): {wall('onnx_ir-ref') / wall('lower-ref'):.1f}× wall")
        if wall("lower-copy") and wall("onnx_ir-copy"):
            ratios.append(f"onnx_ir load+save / onnx-lower llm (both copying weights): {wall('onnx_ir-copy') / wall('lower-copy'):.1f}× wall, "
                          f"{g('onnx_ir-copy', 'peak_rss_mb') / g('lower-copy', 'peak_rss_mb'):.1f}× peak RSS")
        if wall("lower-copy") and wall("onnx_ir-copy") and wall("onnxscript-ref") and wall("onnx_ir-ref"):
            est = wall("onnxscript-ref") + (wall("onnx_ir-copy") - wall("onnx_ir-ref"))
            ratios.append(f"onnx_ir+onnxscript with the weight copy (onnxscript-ref + copy cost of onnx_ir) / onnx-lower llm copy: "
                          f"{est / wall('lower-copy'):.1f}× wall")
        if ratios:
            out.append(f"Ratios, {r['label']}: " + "; ".join(ratios) + ".")
            out.append("")
    print("\n".join(out))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--model", required=True)
    r.add_argument("--label", required=True)
    r.add_argument("--json", required=True)
    r.add_argument("--node", default="node")
    r.add_argument("--cli", default=os.path.join(HERE, "dist", "onnx-lower.js"))
    r.add_argument("--steps")
    r.add_argument("--work")
    r.add_argument("--deadline", type=float, help="epoch seconds; later steps are skipped, running ones killed")
    r.add_argument("--estimates", help='JSON {step: seconds}: skip a step when less than this is left')
    r.add_argument("--step-timeout", type=float, default=600)
    t = sub.add_parser("table")
    t.add_argument("json", nargs="+")
    args = p.parse_args()
    return cmd_run(args) if args.cmd == "run" else cmd_table(args)


if __name__ == "__main__":
    sys.exit(main())
