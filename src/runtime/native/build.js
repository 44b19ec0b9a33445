#!/usr/bin/env node
// Builds the native runtime addons into build/native:
//   onnxl_cuda.node  CUDA kernels + N-API glue (one nvcc translation unit, sm_80 and sm_90), where nvcc exists
//   onnxl_emu.node   the CPU emulator of the same instruction set (tests without a GPU), where a C++ compiler exists
// Without nvcc it prints a note and skips the CUDA addon (npm install never fails for lack of CUDA); with nvcc a
// compile error fails the build, so CI catches a broken addon. Up-to-date outputs are not rebuilt.
// Flags: --force (rebuild), --cuda-only, --emu-only, --arch=sm_90 (override the targets, repeatable).
// Env: ONNX_LOWER_SKIP_CUDA=1 skips the CUDA addon; NVCC, CUDA_HOME, CXX pick the compilers.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const here = __dirname;
const root = path.resolve(here, '..', '..', '..');
const outDir = process.env.ONNX_LOWER_NATIVE_DIR || path.join(root, 'build', 'native');
const args = process.argv.slice(2);
const force = args.includes('--force');
const archs = args.filter((a) => a.startsWith('--arch=')).map((a) => a.slice(7));
const sources = ['ops.h', 'device.h', 'addon.cpp', 'sample-common.h', 'sample.cuh', 'emu-sample.h'].map((f) => path.join(here, f));

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}
function findNvcc() {
  if (process.env.ONNX_LOWER_SKIP_CUDA) return undefined;
  if (process.env.NVCC) return fs.existsSync(process.env.NVCC) ? process.env.NVCC : undefined;
  const onPath = which('nvcc');
  if (onPath) return onPath;
  for (const dir of [process.env.CUDA_HOME, process.env.CUDA_PATH, '/usr/local/cuda']) {
    if (dir && fs.existsSync(path.join(dir, 'bin', 'nvcc'))) return path.join(dir, 'bin', 'nvcc');
  }
  return undefined;
}
function napiInclude() {
  try {
    return require('node-api-headers').include_dir;
  } catch {
    const guess = path.join(root, 'node_modules', 'node-api-headers', 'include');
    return fs.existsSync(guess) ? guess : undefined;
  }
}
function upToDate(out, main) {
  if (force || !fs.existsSync(out)) return false;
  const t = fs.statSync(out).mtimeMs;
  return [main, ...sources].every((s) => fs.statSync(s).mtimeMs <= t);
}
function run(cmd, argv) {
  console.log(`[build:native] ${path.basename(cmd)} ${argv.join(' ')}`);
  const r = spawnSync(cmd, argv, { stdio: 'inherit' });
  return r.status === 0;
}

const include = napiInclude();
if (!include) {
  console.log('[build:native] note: node-api-headers not installed; skipping the native addons');
  process.exit(0);
}
fs.mkdirSync(outDir, { recursive: true });
let failed = false;

if (!args.includes('--cuda-only')) {
  const cxx = process.env.CXX || which('g++') || which('clang++') || which('c++');
  const out = path.join(outDir, 'onnxl_emu.node');
  const main = path.join(here, 'emu.cpp');
  if (!cxx) console.log('[build:native] note: no C++ compiler; skipping the CPU emulator addon');
  else if (upToDate(out, main)) console.log('[build:native] onnxl_emu.node is up to date');
  else if (!run(cxx, ['-std=c++17', '-O2', '-fPIC', '-shared', '-Wall', '-Wno-unused-function', `-I${include}`, main, '-o', out])) failed = true;
}

if (!args.includes('--emu-only')) {
  const nvcc = findNvcc();
  const out = path.join(outDir, 'onnxl_cuda.node');
  const main = path.join(here, 'kernels.cu');
  if (!nvcc) {
    console.log('[build:native] note: nvcc not found; the cuda backend is not built (it will report "cuda backend not available")');
  } else if (upToDate(out, main)) {
    console.log('[build:native] onnxl_cuda.node is up to date');
  } else {
    const targets = (archs.length ? archs : ['sm_80', 'sm_90']).flatMap((a) => ['-gencode', `arch=compute_${a.slice(3)},code=${a}`]);
    const ok = run(nvcc, ['-std=c++17', '-O2', '-shared', '-Xcompiler', '-fPIC', '--threads', '0', ...targets, `-I${include}`, main, '-o', out, '-ldl']);
    if (!ok) failed = true;
  }
}
process.exit(failed ? 1 : 0);
