import * as fs from 'fs';
import * as path from 'path';
import { SerdeError } from '../errors';
import { checkExternalLocation } from '../external-path';
import type { Model } from '../model';
import { ExternalTensor, StringTensor, Tensor } from '../tensor';
import { encodeModel, TensorPlacement } from './encode';

/** Protobuf cannot hold messages of 2 GiB or more. */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;

export interface SaveOptions {
  /**
   * 'auto' (default): external data only when the inline model would pass the 2 GB protobuf limit;
   * true: tensors of at least `sizeThreshold` bytes go to the data file; false: all inline (fails past 2 GB).
   */
  externalData?: boolean | 'auto';
  /** Data file name, relative to the model's folder (default `<model file name>.data`). */
  location?: string;
  /** Tensors smaller than this stay inline (default 1024 bytes). */
  sizeThreshold?: number;
  /** Alignment of each tensor's offset in the data file (default 4096, so files can be mapped by pages). */
  alignment?: number;
  /** Called with (bytesWritten, totalBytes) while copying weights. */
  onProgress?: (done: number, total: number) => void;
}

const COPY_CHUNK = 16 * 1024 * 1024;

/**
 * Saves atomically: the data file and the model are written to temporary files in the target folder and
 * renamed into place, so an interrupted save never damages an existing model. External weights are copied
 * by byte range, never decoded.
 */
export function saveModel(model: Model, filePath: string, options: SaveOptions = {}): void {
  const target = path.resolve(filePath);
  const dir = path.dirname(target);
  if (!fs.existsSync(dir)) throw new SerdeError('SAVE_NO_DIR', `cannot save to '${filePath}': folder '${dir}' does not exist`, filePath);
  const location = options.location ?? `${path.basename(target)}.data`;
  checkExternalLocation(location);
  const threshold = options.sizeThreshold ?? 1024;
  const alignment = Math.max(1, options.alignment ?? 4096);

  const tensors = collectTensors(model);
  const inlineBytes = tensors.reduce((s, t) => s + (t instanceof StringTensor ? t.byteLength : t.byteLength), 0);
  const mode = options.externalData ?? 'auto';
  const external = mode === true || (mode === 'auto' && inlineBytes > PROTOBUF_LIMIT - 64 * 1024 * 1024);

  const suffix = `.tmp-${process.pid}-${Date.now().toString(36)}`;
  const tmpModel = target + suffix;
  const dataPath = path.join(dir, location);
  const tmpData = dataPath + suffix;
  const cleanup = () => {
    for (const f of [tmpModel, tmpData]) if (fs.existsSync(f)) fs.rmSync(f, { force: true });
  };
  try {
    let placements = new Map<Tensor, TensorPlacement>();
    if (external) placements = writeDataFile(tensors, tmpData, location, threshold, alignment, options.onProgress);
    const bytes = encodeModel(model, { place: (t) => placements.get(t) ?? { kind: 'inline' } });
    if (bytes.byteLength > PROTOBUF_LIMIT) {
      throw new SerdeError('SAVE_TOO_LARGE', `the model is ${bytes.byteLength} bytes inline, over protobuf's 2 GB limit; save with external data`, filePath);
    }
    writeFileSynced(tmpModel, bytes);
    if (external) fs.renameSync(tmpData, dataPath);
    fs.renameSync(tmpModel, target);
  } catch (e) {
    cleanup();
    throw e;
  }
}

/** Every tensor with bytes: initializers of all graphs (attribute tensors stay inline: they are small). */
function collectTensors(model: Model): Tensor[] {
  const out: Tensor[] = [];
  for (const g of model.graph.allGraphs()) for (const v of g.initializers.values()) if (v.constValue) out.push(v.constValue);
  return out;
}

function writeDataFile(
  tensors: Tensor[], file: string, location: string, threshold: number, alignment: number,
  onProgress?: (done: number, total: number) => void,
): Map<Tensor, TensorPlacement> {
  const placements = new Map<Tensor, TensorPlacement>();
  const chosen = tensors.filter((t) => !(t instanceof StringTensor) && t.byteLength >= threshold);
  const total = chosen.reduce((s, t) => s + t.byteLength, 0);
  const fd = fs.openSync(file, 'w');
  try {
    let offset = 0;
    let done = 0;
    for (const t of chosen) {
      const pad = (alignment - (offset % alignment)) % alignment;
      if (pad) {
        writeAll(fd, new Uint8Array(pad), offset);
        offset += pad;
      }
      const length = t.byteLength;
      if (t instanceof ExternalTensor && t.isExternal) copyRange(t, fd, offset);
      else writeAll(fd, t.bytes(), offset);
      placements.set(t, { kind: 'external', location, offset, length });
      offset += length;
      done += length;
      onProgress?.(done, total);
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return placements;
}

/** Copies an external tensor's bytes from its file into `fd` in chunks, without holding them all. */
function copyRange(t: ExternalTensor, fd: number, at: number): void {
  const src = fs.openSync(t.dataPath(), 'r');
  try {
    const size = fs.fstatSync(src).size;
    const { offset, length } = t.external;
    if (offset + length > size) {
      throw new SerdeError('SAVE_SOURCE', `tensor '${t.name}' reads bytes ${offset}..${offset + length} of '${t.external.location}', which has ${size}`, t.name);
    }
    const buf = new Uint8Array(Math.min(COPY_CHUNK, Math.max(1, length)));
    let done = 0;
    while (done < length) {
      const n = fs.readSync(src, buf, 0, Math.min(buf.length, length - done), offset + done);
      if (n <= 0) throw new SerdeError('SAVE_SOURCE', `short read of '${t.external.location}'`, t.name);
      writeAll(fd, buf.subarray(0, n), at + done);
      done += n;
    }
  } finally {
    fs.closeSync(src);
  }
}

function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.byteLength) done += fs.writeSync(fd, bytes, done, bytes.byteLength - done, position + done);
}

function writeFileSynced(file: string, bytes: Uint8Array): void {
  const fd = fs.openSync(file, 'w');
  try {
    writeAll(fd, bytes, 0);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
