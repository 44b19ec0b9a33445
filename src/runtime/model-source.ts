import * as fs from 'fs';
import * as path from 'path';
import { OnnxLowerError } from '../ir/errors';

/** What `--model` points at: the .onnx file and, for a model folder, its config. */
export interface ModelSource {
  onnxPath: string;
  folder: string;
  config: ModelConfig;
}

/** The parts of a Hugging Face config.json the runtime uses (all optional: a bare .onnx has none). */
export interface ModelConfig {
  eos_token_id?: number | number[] | null;
  bos_token_id?: number | null;
  max_position_embeddings?: number;
  n_positions?: number;
  vocab_size?: number;
  model_type?: string;
  [key: string]: unknown;
}

export class ModelSourceError extends OnnxLowerError {}

/** Resolves a model folder (model.onnx + config.json + tokenizer files) or a bare .onnx file. */
export function resolveModel(target: string): ModelSource {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(target);
  } catch {
    throw new ModelSourceError('MODEL_MISSING', `model '${target}' does not exist`, target);
  }
  let onnxPath: string;
  if (stat.isDirectory()) {
    const candidates = fs.readdirSync(target).filter((f) => f.endsWith('.onnx')).sort();
    const pick = candidates.includes('model.onnx') ? 'model.onnx' : candidates[0];
    if (!pick) throw new ModelSourceError('MODEL_MISSING', `model folder '${target}' has no .onnx file`, target);
    onnxPath = path.join(target, pick);
  } else {
    if (!target.endsWith('.onnx')) throw new ModelSourceError('MODEL_FORMAT', `model '${target}' is neither a folder nor a .onnx file`, target);
    onnxPath = target;
  }
  const folder = path.dirname(onnxPath);
  return { onnxPath, folder, config: readConfig(folder) };
}

function readConfig(folder: string): ModelConfig {
  const file = path.join(folder, 'config.json');
  if (!fs.existsSync(file)) return {};
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as ModelConfig;
  } catch (e) {
    throw new ModelSourceError('MODEL_CONFIG', `cannot parse '${file}': ${(e as Error).message}`, file);
  }
}

/** EOS ids from the config (a number or a list), none when absent. */
export function eosTokenIds(config: ModelConfig): number[] {
  const e = config.eos_token_id;
  if (e === undefined || e === null) return [];
  return Array.isArray(e) ? e : [e];
}

/** Longest sequence the model supports, when the config says. */
export function maxPositions(config: ModelConfig): number | undefined {
  return config.max_position_embeddings ?? config.n_positions;
}
