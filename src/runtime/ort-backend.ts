import type { Model } from '../ir/model';
import type { Backend } from './backend';
import type { HostTensor } from './host-tensor';
import { createSession, ort, SessionOptions } from './ort-session';

/** The onnxruntime-node CPU backend. */
export class OrtBackend implements Backend {
  readonly name = 'cpu';
  private constructor(private readonly session: ort.InferenceSession) {}

  static async create(model: Model | Uint8Array, options: SessionOptions = {}): Promise<OrtBackend> {
    return new OrtBackend(await createSession(model, options));
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }
  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  async run(feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, t] of Object.entries(feeds)) {
      ortFeeds[k] = t instanceof ort.Tensor ? t : new ort.Tensor(t.type as ort.Tensor.Type, t.data as ort.Tensor.DataType, t.dims);
    }
    return (await this.session.run(ortFeeds)) as unknown as Record<string, HostTensor>;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
