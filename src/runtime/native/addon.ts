import * as fs from 'fs';
import * as path from 'path';

/** Result of the addon's device probe. */
export interface NativeProbe {
  available: boolean;
  reason: string;
  name: string;
  major: number;
  minor: number;
  smCount: number;
  totalMem: number;
  l2Bytes: number;
  kind: 'cuda' | 'emulator';
}

/** The N-API addon (src/runtime/native/addon.cpp). Device pointers are numbers. */
export interface NativeAddon {
  probe(): NativeProbe;
  init(): void;
  alloc(bytes: number): number;
  free(ptr: number): void;
  upload(ptr: number, data: ArrayBufferView): void;
  download(ptr: number, into: ArrayBufferView): void;
  fill(ptr: number, byte: number, bytes: number): void;
  exec(program: Float64Array): void;
  sync(): void;
  captureBegin(): void;
  captureEnd(): number;
  graphLaunch(id: number): void;
  graphDestroy(id: number): void;
  copyBandwidth(bytes: number, iters: number): number;
  setOption(name: string, value: number): void;
  /** Per-instruction GPU time gathered while the "profile" option is on (JSON: {key: {ms, n}}); "{}" on the emulator. */
  profileReport(): string;
}

export type NativeKind = 'cuda' | 'emulator';

const FILES: Record<NativeKind, string> = { cuda: 'onnxl_cuda.node', emulator: 'onnxl_emu.node' };

/** Where `npm run build:native` puts the addons: <package>/build/native (ONNX_LOWER_NATIVE_DIR overrides). */
export function nativeDir(): string {
  if (process.env.ONNX_LOWER_NATIVE_DIR) return path.resolve(process.env.ONNX_LOWER_NATIVE_DIR);
  // src/runtime/native or dist/runtime/native -> package root
  return path.resolve(__dirname, '..', '..', '..', 'build', 'native');
}

const cache = new Map<NativeKind, { addon?: NativeAddon; reason?: string }>();

/** Loads an addon; never throws (the reason says why it is missing). */
export function loadAddon(kind: NativeKind): { addon?: NativeAddon; reason?: string } {
  const hit = cache.get(kind);
  if (hit) return hit;
  const file = path.join(nativeDir(), FILES[kind]);
  let result: { addon?: NativeAddon; reason?: string };
  if (!fs.existsSync(file)) {
    result = { reason: `the native addon was not built (${path.basename(file)} missing: run 'npm run build:native' where nvcc is installed)` };
  } else {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      result = { addon: require(file) as NativeAddon };
    } catch (e) {
      result = { reason: `the native addon does not load: ${(e as Error).message.split('\n')[0]}` };
    }
  }
  cache.set(kind, result);
  return result;
}
