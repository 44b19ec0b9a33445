import { OnnxLowerError } from '../ir/errors';
import type { Model } from '../ir/model';
import type { Backend } from './backend';
import { OrtBackend } from './ort-backend';

export const BACKENDS = ['cpu', 'cuda'] as const;
export type BackendKind = (typeof BACKENDS)[number];

export class BackendUnavailableError extends OnnxLowerError {}

/** Where the cuda backend runs: the GPU, or the CPU emulator of the native runtime (tests without a GPU). */
export const CUDA_DEVICES = ['cuda', 'emulator'] as const;
export type CudaDevice = (typeof CUDA_DEVICES)[number];

/** Throws BackendUnavailableError when `kind` cannot run here (checked before any lowering work). */
export function assertBackendAvailable(kind: BackendKind, device: CudaDevice = 'cuda'): void {
  if (kind === 'cpu') return;
  const cuda = loadCuda(device);
  if (!cuda.ok) throw new BackendUnavailableError('BACKEND_UNAVAILABLE', `cuda backend not available: ${cuda.reason}`);
}

/** Creates the backend that runs a lowered graph: onnxruntime on the CPU, or the native CUDA runtime. */
export async function createBackend(kind: BackendKind, model: Model, device: CudaDevice = 'cuda'): Promise<Backend> {
  if (kind === 'cpu') return OrtBackend.create(model);
  const cuda = loadCuda(device);
  if (!cuda.ok) throw new BackendUnavailableError('BACKEND_UNAVAILABLE', `cuda backend not available: ${cuda.reason}`);
  return cuda.create(model);
}

type CudaModule = { createCudaBackend(model: Model, o: { device: CudaDevice }): Promise<Backend>; cudaAvailability(kind: CudaDevice): { available: boolean; reason?: string } };

function loadCuda(device: CudaDevice): { ok: true; create: (m: Model) => Promise<Backend> } | { ok: false; reason: string } {
  let mod: CudaModule;
  try {
    // Optional: the native runtime is only built where nvcc exists.
    mod = require('./cuda-backend') as CudaModule;
  } catch (e) {
    return { ok: false, reason: `the native CUDA runtime is not part of this build (${(e as Error).message.split('\n')[0]})` };
  }
  const a = mod.cudaAvailability(device);
  if (!a.available) return { ok: false, reason: a.reason ?? 'unknown reason' };
  return { ok: true, create: (m) => mod.createCudaBackend(m, { device }) };
}
