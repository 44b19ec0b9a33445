/** External data: lazy loading, inline↔external round trips, alignment, confinement, and proof that nothing reads weights. */
import * as fs from 'fs';
import * as path from 'path';
import { DataType, ExternalDataError, ExternalTensor, Model, RawTensor, summarize, Tensor, tensor, verify } from '../../../src/ir';
import { decodeModel, encodeModel, loadModel, saveModel } from '../../../src/ir/serde';
import { main } from '../../../src/cli/main';
import { dumpModel } from '../../helpers/model-dump';
import { exportPath, loadReference, maxAbsDiff, ort, referencePrompt } from '../../helpers/models';
import { expectError, floatInput, newModel, tempDir } from '../ir-util';

const tmp = () => tempDir('onnx-lower-ext-');
const initializers = (m: Model): Tensor[] => [...m.graph.initializers.values()].map((v) => v.constValue!);

async function logitsFromFile(file: string, ids: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], graphOptimizationLevel: 'disabled', logSeverityLevel: 3 });
  const dims = [1, ids.length];
  const out = await session.run({
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), dims),
    position_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map((_, i) => BigInt(i))), dims),
  });
  return out.logits.data as Float32Array;
}

/** The gpt2 fixture saved with external data into a fresh folder. */
function externalCopy(options: { sizeThreshold?: number; alignment?: number } = {}): { dir: string; file: string; data: string } {
  const dir = tmp();
  const file = path.join(dir, 'gpt2.onnx');
  saveModel(loadModel(exportPath('gpt2', 18)), file, { externalData: true, sizeThreshold: options.sizeThreshold ?? 1024, alignment: options.alignment ?? 4096 });
  return { dir, file, data: `${file}.data` };
}

describe('saving with external data', () => {
  test('big tensors go to an aligned data file, small ones stay inline; onnxruntime gives the reference logits', async () => {
    const { file, data } = externalCopy();
    const m = loadModel(file);
    const ts = initializers(m);
    const external = ts.filter((t): t is ExternalTensor => t instanceof ExternalTensor);
    const inline = ts.filter((t) => !(t instanceof ExternalTensor));
    expect(external.length).toBeGreaterThanOrEqual(8);
    expect(inline.length).toBeGreaterThan(0);
    for (const t of external) {
      expect(t.byteLength).toBeGreaterThanOrEqual(1024);
      expect(t.external.offset % 4096).toBe(0);
      expect(t.external.location).toBe('gpt2.onnx.data');
      expect(t.isExternal).toBe(true); // loading read nothing
    }
    for (const t of inline) expect(t.byteLength).toBeLessThan(1024);
    const last = external.reduce((a, b) => (a.external.offset > b.external.offset ? a : b));
    expect(fs.statSync(data).size).toBe(last.external.offset + last.external.length);
    // The model file lost the external tensors' bytes (and gained a few location entries).
    const externalTotal = external.reduce((s, t) => s + t.byteLength, 0);
    expect(fs.statSync(file).size).toBeLessThan(fs.statSync(exportPath('gpt2', 18)).size - externalTotal + 8 * 1024);
    expect(verify(m)).toEqual([]);

    const ref = loadReference('gpt2');
    const logits = await logitsFromFile(file, referencePrompt(ref));
    expect(maxAbsDiff(logits, ref.logits)).toBeLessThan(1e-5);
  });

  test('inline → external → inline gives back the original file byte for byte', () => {
    const { dir, file } = externalCopy({ alignment: 64 });
    const back = path.join(dir, 'inline.onnx');
    saveModel(loadModel(file), back, { externalData: false });
    expect(fs.existsSync(`${back}.data`)).toBe(false);
    expect(Buffer.compare(fs.readFileSync(back), fs.readFileSync(exportPath('gpt2', 18)))).toBe(0);
    expect(initializers(loadModel(back)).some((t) => t instanceof ExternalTensor)).toBe(false);
  });

  test('external → external elsewhere copies byte ranges (other alignment), values unchanged', () => {
    const { file } = externalCopy();
    const original = loadModel(exportPath('gpt2', 18));
    const otherDir = tmp();
    const moved = path.join(otherDir, 'moved.onnx');
    let progress = 0;
    saveModel(loadModel(file), moved, { externalData: true, sizeThreshold: 4096, alignment: 16, location: 'weights.bin', onProgress: (d) => (progress = d) });
    const m = loadModel(moved);
    const ts = initializers(m).filter((t): t is ExternalTensor => t instanceof ExternalTensor);
    expect(ts.every((t) => t.external.offset % 16 === 0 && t.external.location === 'weights.bin')).toBe(true);
    expect(progress).toBe(ts.reduce((s, t) => s + t.byteLength, 0));
    expect(dumpModel(decodeModel(encodeModel(m)))).toEqual(dumpModel(original));
  });

  test('saving over the data file a loaded model reads from keeps that model readable (its tensors follow)', () => {
    const { file } = externalCopy({ alignment: 4096 });
    const m = loadModel(file);
    const offsets = () => initializers(m).filter((t): t is ExternalTensor => t instanceof ExternalTensor).map((t) => t.external.offset);
    const oldOffsets = offsets();
    const before = dumpModel(loadModel(exportPath('gpt2', 18)));
    saveModel(m, file, { externalData: true, alignment: 64, sizeThreshold: 0 }); // small tensors join: a different layout, same file names
    expect(offsets()).not.toEqual(oldOffsets); // the layout did change under the loaded model
    // The in-memory model still reads the right bytes from the rewritten file...
    expect(dumpModel(decodeModel(encodeModel(m)))).toEqual(before);
    // ...and so does a fresh load.
    expect(dumpModel(decodeModel(encodeModel(loadModel(file))))).toEqual(before);
    expect(initializers(loadModel(file)).filter((t) => t instanceof ExternalTensor).every((t) => (t as ExternalTensor).external.offset % 64 === 0)).toBe(true);
  });
});

describe('load, summarize and inspect read no weight bytes', () => {
  test('they work with the data file gone; only asking for values fails', async () => {
    const { file, data } = externalCopy();
    const withData = summarize(loadModel(file));
    fs.rmSync(data);
    const m = loadModel(file);
    const s = summarize(m);
    expect(s).toEqual(withData);
    expect(s.externalBytes).toBeGreaterThan(100_000);
    expect(s.externalFiles).toEqual(['gpt2.onnx.data']);
    const out: string[] = [];
    const err: string[] = [];
    expect(await main(['inspect', file, '--json'], (x) => out.push(x), (x) => err.push(x))).toBe(0);
    expect(JSON.parse(out.join('\n')).externalBytes).toBe(s.externalBytes);
    expect(err).toEqual([]);
    const t = initializers(m).find((x): x is ExternalTensor => x instanceof ExternalTensor)!;
    expectError(() => t.bytes(), 'EXTERNAL_MISSING', ExternalDataError);
  });

  test('a data file of the same size full of garbage changes the values but not the summary', () => {
    const { file, data } = externalCopy();
    const good = loadModel(file);
    const summary = summarize(good);
    const t0 = initializers(good).find((x): x is ExternalTensor => x instanceof ExternalTensor)!;
    const goodBytes = Buffer.from(t0.bytes());
    const size = fs.statSync(data).size;
    fs.writeFileSync(data, Buffer.alloc(size, 0xa5));
    const bad = loadModel(file);
    expect(summarize(bad)).toEqual(summary);
    const t1 = initializers(bad).find((x): x is ExternalTensor => x instanceof ExternalTensor && x.name === t0.name)!;
    expect(Buffer.from(t1.bytes()).equals(goodBytes)).toBe(false);
    expect(t1.bytes().every((b) => b === 0xa5)).toBe(true);
  });

  test('with fs spied on, the data file is never opened or read by load + summarize + inspect', async () => {
    const { file, data } = externalCopy();
    const realFs: typeof fs = jest.requireActual('fs');
    const openSpy = jest.spyOn(realFs, 'openSync');
    const readFileSpy = jest.spyOn(realFs, 'readFileSync');
    const createStreamSpy = jest.spyOn(realFs, 'createReadStream');
    try {
      let summaryBytes = 0;
      // Fresh module instances, so their `import * as fs` copies pick up the spies.
      await jest.isolateModulesAsync(async () => {
        const serde = require('../../../src/ir/serde') as typeof import('../../../src/ir/serde');
        const ir = require('../../../src/ir') as typeof import('../../../src/ir');
        const cli = require('../../../src/cli/main') as typeof import('../../../src/cli/main');
        summaryBytes = ir.summarize(serde.loadModel(file)).externalBytes;
        expect(await cli.main(['inspect', file], () => undefined, () => undefined)).toBe(0);
        // The spies do see the model file: proof they are wired in.
        expect(readFileSpy.mock.calls.some((c) => String(c[0]) === file)).toBe(true);
        // And a read of values does go through them.
        const t = [...serde.loadModel(file).graph.initializers.values()].map((v) => v.constValue!).find((x) => x instanceof ir.ExternalTensor)!;
        openSpy.mockClear();
        t.bytes();
        expect(openSpy.mock.calls.some((c) => path.resolve(String(c[0])) === fs.realpathSync(data))).toBe(true);
        openSpy.mockClear();
        readFileSpy.mockClear();
        serde.loadModel(file);
        ir.summarize(serde.loadModel(file));
        await cli.main(['inspect', file, '--json'], () => undefined, () => undefined);
      });
      const touched = [...openSpy.mock.calls, ...readFileSpy.mock.calls, ...createStreamSpy.mock.calls].map((c) => String(c[0]));
      expect(touched.filter((p) => path.basename(p) === path.basename(data))).toEqual([]);
      expect(summaryBytes).toBeGreaterThan(0);
    } finally {
      openSpy.mockRestore();
      readFileSpy.mockRestore();
      createStreamSpy.mockRestore();
    }
  });
});

/** A one-initializer model whose tensor is stored at `location` (whatever that is), written as a file in `dir`. */
function modelWithLocation(dir: string, location: string, data?: { file: string; bytes: Uint8Array }): string {
  const m = newModel();
  const g = m.graph;
  const x = floatInput(g, 'x');
  const w = g.addInitializer('w', tensor.float32([4], [1, 2, 3, 4]));
  g.addOutput(g.add({ op: 'Add', inputs: [x, w] }).output);
  const bytes = encodeModel(m, { place: (t) => (t.name === 'w' ? { kind: 'external', location, offset: 0, length: 16 } : { kind: 'inline' }) });
  const file = path.join(dir, 'model.onnx');
  fs.writeFileSync(file, bytes);
  if (data) fs.writeFileSync(data.file, data.bytes);
  return file;
}

describe('hostile external-data locations are refused with ExternalDataError', () => {
  test.each(['../x', '/etc/passwd', 'a/../../x', '..', './', '..\\x', 'C:\\Windows\\win.ini', 'a/\0b'])('%j is refused at load', (location) => {
    const dir = tmp();
    const file = modelWithLocation(dir, location);
    const e = expectError(() => loadModel(file), 'EXTERNAL_PATH', ExternalDataError);
    expect(e.subject).toBe(location);
  });

  test('a link inside the folder that points outside is refused when values are read (and when re-saved)', () => {
    const outside = tmp();
    const secret = path.join(outside, 'secret.bin');
    fs.writeFileSync(secret, Buffer.alloc(16, 7));
    const dir = tmp();
    fs.symlinkSync(secret, path.join(dir, 'link.data'));
    fs.symlinkSync(outside, path.join(dir, 'sub'));
    for (const location of ['link.data', 'sub/secret.bin']) {
      const m = loadModel(modelWithLocation(dir, location)); // the location string itself is fine
      const t = m.graph.initializers.get('w')!.constValue as ExternalTensor;
      expect(summarize(m).externalFiles).toEqual([location]);
      const e = expectError(() => t.bytes(), 'EXTERNAL_PATH', ExternalDataError);
      expect(e.message).toMatch(/outside the model's folder/);
      expectError(() => saveModel(m, path.join(dir, 'copy.onnx'), { externalData: true, sizeThreshold: 0 }), 'EXTERNAL_PATH', ExternalDataError);
      expectError(() => saveModel(m, path.join(dir, 'copy.onnx'), { externalData: false }), 'EXTERNAL_PATH', ExternalDataError);
    }
    expect(fs.readdirSync(dir).sort()).toEqual(['link.data', 'model.onnx', 'sub']);
  });

  test('a link that stays inside the folder, and a file named `..weights`, are fine', () => {
    const dir = tmp();
    const values = new Uint8Array(new Float32Array([9, 8, 7, 6]).buffer);
    fs.mkdirSync(path.join(dir, 'real'));
    fs.writeFileSync(path.join(dir, 'real', 'w.bin'), values);
    fs.symlinkSync(path.join(dir, 'real', 'w.bin'), path.join(dir, 'inside.data'));
    for (const location of ['inside.data', 'real/w.bin', '..weights']) {
      if (location === '..weights') fs.writeFileSync(path.join(dir, '..weights'), values);
      const m = loadModel(modelWithLocation(dir, location));
      expect(Array.from(m.graph.initializers.get('w')!.constValue!.toArray() as Float32Array)).toEqual([9, 8, 7, 6]);
    }
  });

  test('a range past the end of the data file, or a folder in its place, is a typed error', () => {
    const dir = tmp();
    const m1 = loadModel(modelWithLocation(dir, 'short.data', { file: path.join(dir, 'short.data'), bytes: new Uint8Array(8) }));
    expectError(() => m1.graph.initializers.get('w')!.constValue!.bytes(), 'EXTERNAL_RANGE', ExternalDataError);
    fs.mkdirSync(path.join(dir, 'folder.data'));
    const m2 = loadModel(modelWithLocation(dir, 'folder.data'));
    expectError(() => m2.graph.initializers.get('w')!.constValue!.bytes(), 'EXTERNAL_MISSING', ExternalDataError);
  });

  test('decoding bytes without a folder keeps locations checked', () => {
    const m = newModel();
    const w = m.graph.addInitializer('w', new RawTensor(DataType.FLOAT, [1], new Uint8Array(4)));
    m.graph.addOutput(w);
    const bytes = encodeModel(m, { place: () => ({ kind: 'external', location: '../../etc/shadow', offset: 0, length: 4 }) });
    expectError(() => decodeModel(bytes), 'EXTERNAL_PATH', ExternalDataError);
  });
});
