import { Attribute } from './attribute';
import { Graph } from './graph';

/** A model-local function (FunctionProto): a body graph plus its attribute names and defaults. */
export class OnnxFunction {
  docString = '';
  readonly metadata = new Map<string, string>();
  readonly opsetImports = new Map<string, number>();
  unknownFields: Uint8Array[] = [];
  /** Attribute names without defaults. */
  attributeNames: string[] = [];
  /** Attributes with default values. */
  attributeDefaults: Attribute[] = [];

  constructor(
    public domain: string,
    public name: string,
    readonly body: Graph,
    public overload = '',
  ) {}

  get id(): string {
    return functionId(this.domain, this.name, this.overload);
  }
}

export function functionId(domain: string, name: string, overload = ''): string {
  return `${domain}::${name}${overload ? `::${overload}` : ''}`;
}

/** A whole model: the main graph, opset imports, functions and model-level metadata. */
export class Model {
  irVersion = 10;
  producerName = 'onnx-lower';
  producerVersion = '';
  domain = '';
  modelVersion = 0;
  docString = '';
  /** Domain ('' = ai.onnx) → opset version. */
  readonly opsetImports = new Map<string, number>();
  readonly metadata = new Map<string, string>();
  readonly functions: OnnxFunction[] = [];
  unknownFields: Uint8Array[] = [];
  /** Rarely used ModelProto fields (training_info, configuration), kept as decoded. */
  extra: Record<string, unknown> = {};
  /** Folder external data locations are relative to (the loaded file's folder). */
  baseDir: string | undefined;

  constructor(public graph: Graph = new Graph()) {}

  /** Opset version of a domain ('' and 'ai.onnx' are the same). */
  opset(domain = ''): number | undefined {
    const d = domain === 'ai.onnx' ? '' : domain;
    return this.opsetImports.get(d);
  }

  findFunction(domain: string, name: string, overload = ''): OnnxFunction | undefined {
    const id = functionId(domain, name, overload);
    return this.functions.find((f) => f.id === id);
  }
}
