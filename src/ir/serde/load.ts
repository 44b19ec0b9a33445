import * as fs from 'fs';
import * as path from 'path';
import { SerdeError } from '../errors';
import type { Model } from '../model';
import { decodeModel } from './decode';
import { PROTOBUF_LIMIT } from './save';

/**
 * Loads an ONNX file. The file is read once into memory (inline weights stay views into it); external
 * data is only located, not read.
 */
export function loadModel(filePath: string): Model {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(filePath);
  } catch {
    throw new SerdeError('LOAD_MISSING', `model file '${filePath}' does not exist`, filePath);
  }
  if (stat.isDirectory()) throw new SerdeError('LOAD_IS_DIR', `'${filePath}' is a folder, not an ONNX file`, filePath);
  if (stat.size > PROTOBUF_LIMIT) throw new SerdeError('LOAD_TOO_LARGE', `'${filePath}' is ${stat.size} bytes, larger than any valid ONNX protobuf`, filePath);
  const bytes = fs.readFileSync(filePath);
  try {
    return decodeModel(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), { baseDir: path.dirname(path.resolve(filePath)) });
  } catch (e) {
    if (e instanceof SerdeError) {
      const err = new SerdeError(e.code, `${filePath}: ${e.message}`, e.subject);
      throw err;
    }
    throw e;
  }
}
