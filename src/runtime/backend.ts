import type { HostTensor } from './host-tensor';

/** Executes one lowered graph. Implementations: onnxruntime CPU (ort-backend.ts), native CUDA. */
export interface Backend {
  readonly name: string;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>>;
  /** Releases native resources. */
  dispose(): Promise<void>;
}
