import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { Model } from '../../../src/ir/model';
import { createCudaBackend, cudaAvailability, CudaUnavailableError } from '../../../src/runtime/cuda-backend';
import { loadAddon, nativeDir } from '../../../src/runtime/native/addon';

const hasGpu = cudaAvailability().available;

describe('cuda backend availability', () => {
  (hasGpu ? it.skip : it)('without a GPU, createCudaBackend throws a typed "cuda backend not available: <reason>"', async () => {
    const a = cudaAvailability();
    expect(a.available).toBe(false);
    expect(a.reason).toMatch(/\S/);
    await expect(createCudaBackend(new Model())).rejects.toThrow(CudaUnavailableError);
    await expect(createCudaBackend(new Model())).rejects.toThrow(/^cuda backend not available: \S/);
  });

  it('names a missing addon as the reason', async () => {
    const saved = process.env.ONNX_LOWER_NATIVE_DIR;
    process.env.ONNX_LOWER_NATIVE_DIR = path.join(__dirname, 'no-such-dir');
    try {
      jest.resetModules();
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const fresh = require('../../../src/runtime/cuda-backend') as typeof import('../../../src/runtime/cuda-backend');
      const a = fresh.cudaAvailability();
      expect(a.available).toBe(false);
      expect(a.reason).toMatch(/not built/);
      await expect(fresh.createCudaBackend(new Model())).rejects.toThrow(/^cuda backend not available: the native addon was not built/);
    } finally {
      if (saved === undefined) delete process.env.ONNX_LOWER_NATIVE_DIR;
      else process.env.ONNX_LOWER_NATIVE_DIR = saved;
    }
  });

  const nvcc = spawnSync('sh', ['-c', 'command -v nvcc || ls /usr/local/cuda/bin/nvcc'], { encoding: 'utf8' }).status === 0;
  (nvcc ? it : it.skip)('where nvcc exists, the build produced a CUDA addon that loads and probes', () => {
    expect(fs.existsSync(path.join(nativeDir(), 'onnxl_cuda.node'))).toBe(true);
    const { addon, reason } = loadAddon('cuda');
    expect(reason).toBeUndefined();
    const p = addon!.probe();
    expect(p.kind).toBe('cuda');
    if (!p.available) expect(p.reason).toMatch(/\S/);
  });
});
