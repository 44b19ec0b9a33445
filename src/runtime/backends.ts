import { OnnxLowerError } from '../ir/errors';
import type { Model } from '../ir/model';
import type { Backend } from './backend';
import { OrtBackend } from './ort-backend';

export const BACKENDS = ['cpu', 'cuda'] as const;
export type BackendKind = (typeof BACKENDS)[number];

export class BackendUnavailableError extends OnnxLowerError {}

/** Throws BackendUnavailableError when `kind` cannot run here (checked before any lowering work). */
export function assertBackendAvailable(kind: BackendKind): void {
  if (kind === 'cpu') return;
  const cuda = loadCuda();
  if (!cuda.ok) throw new BackendUnavailableError('BACKEND_UNAVAILABLE', `cuda backend not available: ${cuda.reason}`);
}

/** Creates the backend that runs a lowered graph: onnxruntime on the CPU, or the native CUDA runtime. */
export async function createBackend(kind: BackendKind, model: Model): Promise<Backend> {
  if (kind === 'cpu') return OrtBackend.create(model);
  const cuda = loadCuda();
  if (!cuda.ok) throw new BackendUnavailableError('BACKEND_UNAVAILABLE', `cuda backend not available: ${cuda.reason}`);
  return cuda.create(model);
}

type CudaModule = { createCudaBackend(model: Model): Promise<Backend>; cudaAvailability(): { available: boolean; reason?: string } };

function loadCuda(): { ok: true; create: (m: Model) => Promise<Backend> } | { ok: false; reason: string } {
  let mod: CudaModule;
  try {
    // Optional: the native runtime is only built where nvcc exists.
    mod = require('./cuda-backend') as CudaModule;
  } catch (e) {
    return { ok: false, reason: `the native CUDA runtime is not part of this build (${(e as Error).message.split('\n')[0]})` };
  }
  const a = mod.cudaAvailability();
  if (!a.available) return { ok: false, reason: a.reason ?? 'unknown reason' };
  return { ok: true, create: (m) => mod.createCudaBackend(m) };
}
