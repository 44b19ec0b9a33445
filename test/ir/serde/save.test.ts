/** Atomic saves and the inline/external decision (incl. models over 2 GB, planned without writing them). */
import * as fs from 'fs';
import * as path from 'path';
import { DataType, Model, RawTensor, SerdeError, StringTensor, Tensor, tensor } from '../../../src/ir';
import { AUTO_EXTERNAL_MARGIN, loadModel, planSave, PROTOBUF_LIMIT, saveModel } from '../../../src/ir/serde';
import { expectError, floatInput, newModel, tempDir } from '../ir-util';

const tmp = () => tempDir('onnx-lower-save-');

/** A tensor that claims any size and refuses to give bytes (so a test proves nobody asked). */
class ClaimedTensor extends Tensor {
  constructor(private readonly claimed: number, name = 'claimed') {
    super(DataType.UINT8, [claimed], name);
  }
  override get byteLength(): number {
    return this.claimed;
  }
  bytes(): Uint8Array {
    throw new Error(`bytes() of '${this.name}' must not be called`);
  }
}

/** A tensor whose bytes fail to load (a disk error half-way through a save). */
class FailingTensor extends Tensor {
  constructor(dims: number[], name: string) {
    super(DataType.FLOAT, dims, name);
  }
  bytes(): Uint8Array {
    throw new Error('simulated I/O failure');
  }
}

function modelWith(tensors: Tensor[]): Model {
  const m = newModel();
  const g = m.graph;
  let v = floatInput(g, 'x');
  tensors.forEach((t, i) => {
    const w = g.addInitializer(t.name || `w${i}`, t);
    v = g.add({ op: 'Add', inputs: [v, w] }).output;
  });
  g.addOutput(v);
  return m;
}

const big = (n: number, name: string) => new RawTensor(DataType.FLOAT, [n], new Uint8Array(n * 4).fill(n & 0xff), name);

describe('planSave decides placement from sizes alone', () => {
  test("'auto' keeps a model inline until it nears 2 GB, then goes external", () => {
    const small = planSave([new ClaimedTensor(1_000_000)]);
    expect(small.external).toBe(false);
    expect(small.placements.size).toBe(0);
    const nearLimit = planSave([new ClaimedTensor(PROTOBUF_LIMIT - AUTO_EXTERNAL_MARGIN)]);
    expect(nearLimit.external).toBe(false);
    const huge = [new ClaimedTensor(1.5 * 2 ** 30, 'a'), new ClaimedTensor(1.5 * 2 ** 30, 'b'), new ClaimedTensor(100, 'tiny')];
    const plan = planSave(huge);
    expect(plan.external).toBe(true);
    expect([...plan.placements.keys()].map((t) => t.name)).toEqual(['a', 'b']);
    expect(plan.inlineBytes).toBe(100);
    expect(plan.dataBytes).toBe(3 * 2 ** 30);
  });

  test('offsets are aligned; small and STRING tensors stay inline; a shared tensor is placed once', () => {
    const shared = new ClaimedTensor(5000, 's');
    const strings = new StringTensor([1], [new Uint8Array(5000)], 'str');
    const plan = planSave([new ClaimedTensor(10, 'small'), new ClaimedTensor(4097, 'a'), shared, strings, shared, new ClaimedTensor(1, 'b')], {
      externalData: true, sizeThreshold: 1, alignment: 4096,
    });
    expect([...plan.placements].map(([t, p]) => [t.name, p.offset, p.length])).toEqual([
      ['small', 0, 10], ['a', 4096, 4097], ['s', 12288, 5000], ['b', 20480, 1],
    ]);
    const noAlign = planSave([new ClaimedTensor(3, 'a'), new ClaimedTensor(5, 'b')], { externalData: true, sizeThreshold: 0, alignment: 0 });
    expect([...noAlign.placements.values()].map((p) => p.offset)).toEqual([0, 3]);
  });

  test('refuses plans that cannot fit protobuf, before anything is read', () => {
    const over = [new ClaimedTensor(PROTOBUF_LIMIT + 1)];
    expectError(() => planSave(over, { externalData: false }), 'SAVE_TOO_LARGE', SerdeError);
    // External, but the threshold keeps 2 GB of "small" tensors inline.
    const manySmall = Array.from({ length: 3 }, (_, i) => new ClaimedTensor(2 ** 30, `t${i}`));
    expectError(() => planSave(manySmall, { externalData: true, sizeThreshold: 2 ** 31 }), 'SAVE_TOO_LARGE', SerdeError);
    expectError(() => planSave([], { sizeThreshold: -1 }), 'SAVE_OPTIONS', SerdeError);
  });

  test('saveModel refuses an inline model over 2 GB without reading or writing anything', () => {
    const dir = tmp();
    const m = modelWith([new ClaimedTensor(PROTOBUF_LIMIT + 1)]);
    expectError(() => saveModel(m, path.join(dir, 'm.onnx'), { externalData: false }), 'SAVE_TOO_LARGE', SerdeError);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe('saves are atomic', () => {
  function existing(): { dir: string; file: string; bytes: Buffer; dataBytes: Buffer } {
    const dir = tmp();
    const file = path.join(dir, 'model.onnx');
    saveModel(modelWith([big(4096, 'w0'), big(2048, 'w1')]), file, { externalData: true });
    return { dir, file, bytes: fs.readFileSync(file), dataBytes: fs.readFileSync(`${file}.data`) };
  }

  test.each([
    ['inline', { externalData: false }],
    ['external, failing half-way through the data file', { externalData: true, sizeThreshold: 16 }],
  ] as const)('a save that fails (%s) leaves the existing files byte-identical and no temporary files', (_, options) => {
    const { dir, file, bytes, dataBytes } = existing();
    const failing = modelWith([big(8192, 'first'), new FailingTensor([1024], 'boom'), big(16, 'last')]);
    const e = expectError(() => saveModel(failing, file, options), 'SAVE_IO', SerdeError);
    expect(e.message).toMatch(/simulated I\/O failure/);
    expect(fs.readFileSync(file).equals(bytes)).toBe(true);
    expect(fs.readFileSync(`${file}.data`).equals(dataBytes)).toBe(true);
    expect(fs.readdirSync(dir).sort()).toEqual(['model.onnx', 'model.onnx.data']);
    // The old model still loads and reads.
    expect(loadModel(file).graph.initializers.get('w0')!.constValue!.bytes()[0]).toBe(4096 & 0xff);
  });

  test('a failure writing the data file (its folder is missing) is typed and leaves nothing behind', () => {
    const { dir, file, bytes } = existing();
    const e = expectError(() => saveModel(modelWith([big(4096, 'w')]), file, { externalData: true, location: 'missing/w.bin' }), 'SAVE_IO', SerdeError);
    expect(e.message).toMatch(/ENOENT/);
    expect(fs.readFileSync(file).equals(bytes)).toBe(true);
    expect(fs.readdirSync(dir).sort()).toEqual(['model.onnx', 'model.onnx.data']);
  });

  test('a missing target folder is refused up front', () => {
    expectError(() => saveModel(modelWith([]), path.join(tmp(), 'nope', 'm.onnx')), 'SAVE_NO_DIR', SerdeError);
  });

  test('a successful save replaces both files; a model with nothing above the threshold writes no data file', () => {
    const { dir, file } = existing();
    saveModel(modelWith([tensor.float32([2], [1, 2])]), path.join(dir, 'small.onnx'), { externalData: true, sizeThreshold: 1024 });
    expect(fs.existsSync(path.join(dir, 'small.onnx.data'))).toBe(false);
    saveModel(modelWith([big(100, 'w0')]), file, { externalData: true, sizeThreshold: 16, alignment: 16 });
    expect(fs.statSync(`${file}.data`).size).toBe(400);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});
