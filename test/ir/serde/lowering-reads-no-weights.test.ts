/**
 * The `llm` lowering of a model with external data never reads its weights: every pass (cleanup's constant
 * folding and CSE, sdpa_canonicalize's mask and repeat_kv probes, the static cache, unused-initializer
 * removal) works on the graph, and saving copies weight bytes by range. `ExternalTensor.bytes()` is the only
 * way to a tensor's values (toArray, toNumbers and the evaluator go through it), so a spy on it sees any read.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ExternalTensor, Model, Tensor } from '../../../src/ir';
import { loadModel, saveModel } from '../../../src/ir/serde';
import { main } from '../../../src/cli/main';
import { lowerLlm } from '../../../src/passes/llm/pipeline';
import { exportPath, MODEL_NAMES, OPSETS } from '../../helpers/models';

const made: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lower-noread-'));
  made.push(d);
  return d;
};
afterAll(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});
const initializers = (m: Model): Tensor[] => [...m.graph.initializers.values()].map((v) => v.constValue!);

/** Weight-sized tensors (the fixtures' smallest weights are 64-element vectors: 256 bytes in fp32). */
const SMALL = 256;

/**
 * Known reads: none. constant_folding used to evaluate gpt2's tied head `Transpose(m.lm_head.weight)` (under its
 * element budget) and so read the weight; it now leaves nodes over unread external tensors above 4 KB alone.
 */
const KNOWN_READS: Record<string, string[]> = {};

/** The fixture saved with every tensor of at least SMALL bytes in an external data file. */
function externalFixture(name: string, opset: number): string {
  const dir = tmp();
  const file = path.join(dir, 'model.onnx');
  saveModel(loadModel(exportPath(name, opset)), file, { externalData: true, sizeThreshold: SMALL });
  return file;
}

/**
 * Records the ExternalTensor.bytes() calls that read the data file (name and size) while `fn` runs; the real
 * read still happens. Calls answered from a tensor's cache (bytes read earlier) touch no file and are not counted.
 */
function countReads<T>(fn: () => T): { result: T; reads: { name: string; bytes: number }[] } {
  const reads: { name: string; bytes: number }[] = [];
  const real = Object.getOwnPropertyDescriptor(ExternalTensor.prototype, 'bytes')!.value as (this: ExternalTensor) => Uint8Array;
  const spy = jest.spyOn(ExternalTensor.prototype, 'bytes').mockImplementation(function (this: ExternalTensor) {
    if (this.isExternal) reads.push({ name: this.name, bytes: this.byteLength });
    return real.call(this);
  });
  try {
    return { result: fn(), reads };
  } finally {
    spy.mockRestore();
  }
}

describe('lowering an external-data model reads no weights', () => {
  test.each(MODEL_NAMES.flatMap((m) => OPSETS.map((o) => [m, o] as const)))('%s opset %i: llm pipeline (static_v2) + save', (name, opset) => {
    const file = externalFixture(name, opset);
    const { result: model, reads: loadReads } = countReads(() => loadModel(file));
    const external = initializers(model).filter((t): t is ExternalTensor => t instanceof ExternalTensor);
    expect(external.length).toBeGreaterThan(8);
    expect(loadReads).toEqual([]);

    const { result: report, reads: passReads } = countReads(() => lowerLlm(model, { cache: 'static_v2' }, { verify: true }));
    expect(report.passes.find((p) => p.name === 'static_cache_v2')?.modified).toBe(true);
    const known = new Set(KNOWN_READS[name] ?? []);
    expect(passReads.filter((r) => !known.has(r.name))).toEqual([]);

    // Saving copies byte ranges: no tensor is decoded either.
    const outDir = tmp();
    const out = path.join(outDir, 'lowered.onnx');
    const { reads: saveReads } = countReads(() => saveModel(report.model, out, { externalData: true, sizeThreshold: SMALL }));
    expect(saveReads).toEqual([]);

    // Every weight that survived is in the new data file, byte for byte.
    const before = new Map(external.map((t) => [t.name, t]));
    const lowered = loadModel(out);
    let compared = 0;
    for (const t of initializers(lowered)) {
      const src = before.get(t.name);
      if (!src) continue;
      expect(t).toBeInstanceOf(ExternalTensor);
      expect((t as ExternalTensor).external.location).toBe('lowered.onnx.data');
      expect(Buffer.from(t.bytes()).equals(Buffer.from(src.bytes()))).toBe(true);
      compared++;
    }
    expect(compared).toBeGreaterThan(8);
  });
});

describe('saving with referenceExternalData points at the original data file', () => {
  const sameBytes = (a: Model, b: Model): number => {
    const before = new Map(initializers(a).map((t) => [t.name, t]));
    let n = 0;
    for (const t of initializers(b)) {
      const src = before.get(t.name);
      if (!src) continue;
      expect(Buffer.from(t.bytes()).equals(Buffer.from(src.bytes()))).toBe(true);
      n++;
    }
    return n;
  };

  test('next to the data file: no data file is written, no byte is read, the weights are the same', () => {
    const file = externalFixture('llama', 23);
    const dir = path.dirname(file);
    const model = loadModel(file);
    const lowered = lowerLlm(model, { cache: 'static_v2' }).model;
    const out = path.join(dir, 'lowered.onnx');
    const { reads } = countReads(() => saveModel(lowered, out, { referenceExternalData: true }));
    expect(reads).toEqual([]);
    expect(fs.existsSync(`${out}.data`)).toBe(false);
    expect(fs.statSync(out).size).toBeLessThan(fs.statSync(`${file}.data`).size);
    const back = loadModel(out);
    const external = initializers(back).filter((t): t is ExternalTensor => t instanceof ExternalTensor);
    expect(external.length).toBeGreaterThan(8);
    for (const t of external) expect(t.external.location).toBe('model.onnx.data');
    expect(sameBytes(loadModel(file), back)).toBeGreaterThan(8);
  });

  test('from a folder above the data file the location gains the sub-folder; from elsewhere it is refused', () => {
    const file = externalFixture('qwen2', 23);
    const dir = path.dirname(file);
    const parent = path.dirname(dir);
    const model = loadModel(file);
    const up = path.join(parent, `${path.basename(dir)}-up.onnx`);
    try {
      saveModel(model, up, { referenceExternalData: true });
      const back = loadModel(up);
      const locs = new Set(initializers(back).filter((t): t is ExternalTensor => t instanceof ExternalTensor).map((t) => t.external.location));
      expect([...locs]).toEqual([`${path.basename(dir)}/model.onnx.data`]);
      expect(sameBytes(model, back)).toBeGreaterThan(8);
    } finally {
      fs.rmSync(up, { force: true });
    }
    const elsewhere = path.join(tmp(), 'out.onnx');
    expect(() => saveModel(model, elsewhere, { referenceExternalData: true })).toThrow(/not inside the output's folder/);
    expect(fs.readdirSync(path.dirname(elsewhere))).toEqual([]); // nothing left behind
  });

  test('a data file that would replace the referenced one is refused, and the original stays intact', () => {
    const file = externalFixture('llama', 23);
    const model = loadModel(file);
    const before = fs.readFileSync(`${file}.data`);
    // Saving as model.onnx with external data would write model.onnx.data, the file being referenced.
    const grown = lowerLlm(model, { cache: 'static_v2' }).model;
    expect(() => saveModel(grown, file, { referenceExternalData: true, externalData: true, sizeThreshold: 1 })).toThrow(/would replace the file/);
    expect(fs.readFileSync(`${file}.data`).equals(before)).toBe(true);
  });

  test('lower --reference-external-data writes only the model file', async () => {
    const file = externalFixture('llama', 23);
    const out = path.join(path.dirname(file), 'cli-lowered.onnx');
    const lines: string[] = [];
    expect(await main(['lower', file, '-o', out, '--pipeline', 'llm', '--cache', 'static_v2', '--reference-external-data'], (s) => lines.push(s))).toBe(0);
    expect(fs.existsSync(`${out}.data`)).toBe(false);
    expect(sameBytes(loadModel(file), loadModel(out))).toBeGreaterThan(8);
  });
});
