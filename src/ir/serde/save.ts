import * as fs from 'fs';
import * as path from 'path';
import { OnnxLowerError, SerdeError } from '../errors';
import { checkExternalLocation } from '../external-path';
import type { Model } from '../model';
import { ExternalTensor, StringTensor, Tensor } from '../tensor';
import { modelToProto, TensorPlacement } from './encode';
import { encodeProtoChunks, ProtoMessage } from './wire';

/** Protobuf cannot hold messages of 2 GiB or more. */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;

/** Room left for the graph itself when 'auto' decides whether inline weights still fit under the limit. */
export const AUTO_EXTERNAL_MARGIN = 64 * 1024 * 1024;

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
  /**
   * Keep loaded external tensors where they are: the saved model points at the data file(s) they were loaded
   * from (location made relative to the output's folder), and none of their bytes is read or copied. The
   * output must sit in that file's folder or above it (a location cannot leave the model's folder); the
   * data file must then stay in place. Tensors made in memory are placed as the other options say.
   */
  referenceExternalData?: boolean;
}

/** Where a save puts each tensor: decided from sizes alone, before anything is read or written. */
export interface SavePlan {
  /** Whether a data file is written. */
  readonly external: boolean;
  /** Tensors that go to the data file, in file order, with their aligned offsets. */
  readonly placements: ReadonlyMap<Tensor, { readonly offset: number; readonly length: number }>;
  /** Size of the data file (0 when nothing goes there). */
  readonly dataBytes: number;
  /** Tensor bytes that stay inside the model file. */
  readonly inlineBytes: number;
}

/**
 * Decides inline vs external placement for `tensors` (initializers, each once). Pure: it looks only at
 * `byteLength`, so a 100 GB model is planned without reading a byte. Refuses a plan whose inline part
 * cannot fit in a protobuf message.
 */
export function planSave(tensors: readonly Tensor[], options: Pick<SaveOptions, 'externalData' | 'sizeThreshold' | 'alignment'> = {}): SavePlan {
  const threshold = options.sizeThreshold ?? 1024;
  const alignment = Math.max(1, options.alignment ?? 4096); // 0 means "no alignment"
  if (!Number.isSafeInteger(alignment)) throw new SerdeError('SAVE_OPTIONS', `alignment must be an integer, got ${options.alignment}`);
  if (!(threshold >= 0)) throw new SerdeError('SAVE_OPTIONS', `sizeThreshold must be at least 0, got ${threshold}`);
  const total = tensors.reduce((s, t) => s + t.byteLength, 0);
  const mode = options.externalData ?? 'auto';
  const external = mode === true || (mode === 'auto' && total > PROTOBUF_LIMIT - AUTO_EXTERNAL_MARGIN);
  const placements = new Map<Tensor, { offset: number; length: number }>();
  let offset = 0;
  let inlineBytes = total;
  if (external) {
    for (const t of tensors) {
      if (t instanceof StringTensor || t.byteLength < threshold || placements.has(t)) continue;
      offset += (alignment - (offset % alignment)) % alignment;
      placements.set(t, { offset, length: t.byteLength });
      offset += t.byteLength;
      inlineBytes -= t.byteLength;
    }
  }
  if (inlineBytes > PROTOBUF_LIMIT) {
    throw new SerdeError('SAVE_TOO_LARGE', external
      ? `${inlineBytes} bytes of tensors would stay inline, over protobuf's 2 GB limit; lower sizeThreshold`
      : `the model holds ${inlineBytes} bytes of tensors, over protobuf's 2 GB limit; save with external data`);
  }
  return { external, placements, dataBytes: offset, inlineBytes };
}

const COPY_CHUNK = 16 * 1024 * 1024;

/**
 * Saves atomically: the data file and the model are written to temporary files in the target folder and
 * renamed into place, so a save that fails never damages an existing model (the two renames are the only
 * window, and they are the last step). External weights are copied by byte range, never decoded. Saving
 * over the data file a loaded model reads from is safe: its tensors are pointed at the new file.
 */
export function saveModel(model: Model, filePath: string, options: SaveOptions = {}): void {
  const target = path.resolve(filePath);
  const dir = path.dirname(target);
  if (!fs.existsSync(dir)) throw new SerdeError('SAVE_NO_DIR', `cannot save to '${filePath}': folder '${dir}' does not exist`, filePath);
  const location = options.location ?? `${path.basename(target)}.data`;
  checkExternalLocation(location);

  const tensors = collectTensors(model);
  // referenceExternalData: loaded external tensors keep their bytes where they are; only the rest is planned.
  const referenced = options.referenceExternalData ? referencePlacements(tensors, dir, filePath) : new Map<Tensor, TensorPlacement>();
  const plan = planSave(referenced.size ? tensors.filter((t) => !referenced.has(t)) : tensors, options);
  const writeData = plan.external && plan.placements.size > 0;

  const suffix = `.tmp-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const tmpModel = target + suffix;
  const dataPath = path.join(dir, location);
  const tmpData = dataPath + suffix;
  const cleanup = () => {
    for (const f of [tmpModel, tmpData]) {
      try {
        fs.rmSync(f, { force: true });
      } catch {
        // best effort: the original error matters more
      }
    }
  };
  try {
    // Tensors whose bytes come from the data file this save replaces: after the rename they read the new one.
    const rebind: ExternalTensor[] = [];
    if (writeData) {
      const replaced = realPathOrSelf(dataPath);
      for (const t of referenced.keys()) {
        if (realPathOrSelf((t as ExternalTensor).dataPath()) === replaced) {
          throw new SerdeError('SAVE_REFERENCE', `cannot save '${filePath}': its data file '${location}' would replace the file that referenced tensor '${t.name}' lives in; choose another location`, t.name);
        }
      }
      for (const t of plan.placements.keys()) if (t instanceof ExternalTensor && realPathOrSelf(t.dataPath()) === replaced) rebind.push(t);
      writeDataFile(plan, tmpData, options.onProgress);
    }
    const place = (t: Tensor): TensorPlacement => {
      const p = plan.placements.get(t);
      return p ? { kind: 'external', location, offset: p.offset, length: p.length } : referenced.get(t) ?? { kind: 'inline' };
    };
    const chunks = encodeProtoChunks('onnx.ModelProto', modelToProto(model, { place }) as unknown as ProtoMessage);
    const size = chunks.reduce((s, c) => s + c.byteLength, 0);
    if (size > PROTOBUF_LIMIT) {
      throw new SerdeError('SAVE_TOO_LARGE', `the model is ${size} bytes, over protobuf's 2 GB limit; save with external data`, filePath);
    }
    writeFileSynced(tmpModel, chunks);
    if (writeData) fs.renameSync(tmpData, dataPath);
    fs.renameSync(tmpModel, target);
    syncDir(dir);
    for (const t of rebind) {
      const p = plan.placements.get(t)!;
      t._rebind({ location, offset: p.offset, length: p.length, baseDir: dir });
    }
  } catch (e) {
    cleanup();
    if (e instanceof OnnxLowerError) throw e;
    throw new SerdeError('SAVE_IO', `cannot save '${filePath}': ${(e as Error)?.message ?? String(e)}`, filePath);
  }
}

/** Every tensor with bytes, once: initializers of all graphs (attribute tensors stay inline: they are small). */
function collectTensors(model: Model): Tensor[] {
  const out = new Set<Tensor>();
  for (const g of model.graph.allGraphs()) for (const v of g.initializers.values()) if (v.constValue) out.add(v.constValue);
  return [...out];
}

/**
 * Placements that reference each external tensor's current bytes from a model saved in `dir`. Refuses a data
 * file outside `dir` (its location would need `..`), naming the tensor and the file.
 */
function referencePlacements(tensors: readonly Tensor[], dir: string, filePath: string): Map<Tensor, TensorPlacement> {
  const out = new Map<Tensor, TensorPlacement>();
  const base = realPathOrSelf(dir);
  // Thousands of tensors share a few files: resolve (realpath) each file once.
  const locations = new Map<string, string>();
  for (const t of tensors) {
    if (!(t instanceof ExternalTensor)) continue;
    const key = `${t.external.baseDir}\0${t.external.location}`;
    let location = locations.get(key);
    if (location === undefined) {
      const file = t.dataPath();
      location = path.relative(base, file).split(path.sep).join('/');
      try {
        checkExternalLocation(location);
      } catch {
        throw new SerdeError('SAVE_REFERENCE', `cannot reference the bytes of tensor '${t.name}' from '${filePath}': its data file '${file}' is not inside the output's folder '${dir}'; save next to the data file or copy the weights`, t.name);
      }
      locations.set(key, location);
    }
    const { offset, length, extra } = t.external;
    out.set(t, { kind: 'external', location, offset, length, ...(extra && extra.length ? { extra } : {}) });
  }
  return out;
}

function realPathOrSelf(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

function writeDataFile(plan: SavePlan, file: string, onProgress?: (done: number, total: number) => void): void {
  const fd = fs.openSync(file, 'w');
  // One copy buffer for the whole save, and each source file opened once: allocating (and zeroing) a
  // 16 MiB buffer per tensor made copying a 1B model's 146 tensors several times slower.
  const copier = new RangeCopier();
  try {
    let done = 0;
    const total = [...plan.placements.values()].reduce((s, p) => s + p.length, 0);
    let end = 0;
    for (const [t, { offset, length }] of plan.placements) {
      if (offset > end) writeAll(fd, new Uint8Array(offset - end), end); // alignment padding (< alignment bytes)
      if (t instanceof ExternalTensor && t.isExternal) copier.copy(t, fd, offset);
      else writeAll(fd, t.bytes(), offset);
      end = offset + length;
      done += length;
      onProgress?.(done, total);
    }
    fs.fsyncSync(fd);
  } finally {
    copier.close();
    fs.closeSync(fd);
  }
}

/** Copies external tensors' bytes from their files by range, in chunks, without holding a tensor whole. */
class RangeCopier {
  private buf: Uint8Array | undefined;
  private readonly sources = new Map<string, { fd: number; size: number }>();

  copy(t: ExternalTensor, fd: number, at: number): void {
    const file = t.dataPath();
    let src = this.sources.get(file);
    if (!src) {
      const sfd = fs.openSync(file, 'r');
      src = { fd: sfd, size: fs.fstatSync(sfd).size };
      this.sources.set(file, src);
    }
    const { offset, length } = t.external;
    if (offset + length > src.size) {
      throw new SerdeError('SAVE_SOURCE', `tensor '${t.name}' reads bytes ${offset}..${offset + length} of '${t.external.location}', which has ${src.size}`, t.name);
    }
    if (!this.buf || this.buf.length < Math.min(COPY_CHUNK, length)) this.buf = new Uint8Array(Math.min(COPY_CHUNK, Math.max(1, length)));
    const buf = this.buf;
    let done = 0;
    while (done < length) {
      const n = fs.readSync(src.fd, buf, 0, Math.min(buf.length, length - done), offset + done);
      if (n <= 0) throw new SerdeError('SAVE_SOURCE', `short read of '${t.external.location}'`, t.name);
      writeAll(fd, buf.subarray(0, n), at + done);
      done += n;
    }
  }

  close(): void {
    for (const { fd } of this.sources.values()) fs.closeSync(fd);
    this.sources.clear();
  }
}

function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.byteLength) done += fs.writeSync(fd, bytes, done, bytes.byteLength - done, position + done);
}

function writeFileSynced(file: string, chunks: readonly Uint8Array[]): void {
  const fd = fs.openSync(file, 'w');
  try {
    let at = 0;
    for (const c of chunks) {
      writeAll(fd, c, at);
      at += c.byteLength;
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Makes the renames durable (best effort: not every file system lets a folder be fsynced). */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // ignore
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
