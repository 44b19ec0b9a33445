import { DataType } from '../../ir/dtype';
import type { TrtVersion } from './target';

/**
 * The onnx-tensorrt operator support matrix as data, for the TensorRT versions in TRT_VERSIONS.
 *
 * Sources (every row and rule below names one of these):
 * - MATRIX_10_15: onnx/onnx-tensorrt `docs/operators.md` as of the TensorRT 10.15 GA release ("opset 9 to
 *   opset 24"): the Supported / Supported Types / Restrictions columns are transcribed row by row.
 * - CHANGELOG: onnx/onnx-tensorrt `docs/Changelog.md`: 10.14 "Added support for the `Attention` operator";
 *   10.15 "Added support for `RotaryEmbedding`, `RMSNormalization` and `TensorScatter`"; 10.12 "integer-typed
 *   base tensors for `Pow`"; 10.9 "opset 21 GroupNorm"; 10.6 "Updated ONNX submodule version to 1.17.0"
 *   (opset 22); 10.11 "Updated ONNX version to `1.18`" (opset 23).
 * - IATTENTION_10_15: TensorRT 10.15 C++ API, `nvinfer1::IAttention`: `setCausal` "Cannot be used together
 *   with setMask()"; the causal mask is the upper-left (top-left) aligned triangle (the bottom-right kind only
 *   arrives with `CausalMaskKind` in TensorRT 11).
 * - ISSUE_7: facts the project was given with issue 7 (they agree with the sources above).
 *
 * The per-version operator tables of 10.8 and 10.14 were not available to us; we model them as the 10.15
 * table minus what the changelog says arrived later (the ops and type additions marked `since`). That is
 * an inference and is labelled so in every row it affects.
 */
export const SOURCES = {
  MATRIX_10_15: 'onnx-tensorrt docs/operators.md @ TensorRT 10.15 GA',
  CHANGELOG: 'onnx-tensorrt docs/Changelog.md',
  IATTENTION_10_15: 'TensorRT 10.15 C++ API nvinfer1::IAttention (setCausal / setMask)',
  ISSUE_7: 'onnx-lower issue 7 (given facts)',
  DESIGN: 'onnx-lower DESIGN.md (canonical Attention: is_causal only where S == T)',
} as const;

/** Supported opset range of the default ONNX domain, per TensorRT version. */
export interface OpsetRange {
  readonly min: number;
  readonly max: number;
  readonly source: string;
}

export const OPSET_RANGES: Readonly<Record<TrtVersion, OpsetRange>> = {
  '10.8': { min: 9, max: 22, source: `${SOURCES.CHANGELOG} (10.6: ONNX 1.17 submodule = opset 22; no later ONNX update before 10.11)` },
  '10.14': { min: 9, max: 23, source: `${SOURCES.CHANGELOG} (10.11: ONNX 1.18 = opset 23; 10.14 adds the opset-23 Attention)` },
  '10.15': { min: 9, max: 24, source: `${SOURCES.MATRIX_10_15} ("inclusive range of opset 9 to opset 24")` },
};

/** Type names as the matrix spells them. */
export type TrtType = 'FP32' | 'FP16' | 'BF16' | 'INT32' | 'INT64' | 'BOOL' | 'UINT8' | 'INT8' | 'FP8' | 'FP4' | 'INT4';

/** The matrix's type name of an ONNX element type; DOUBLE is imported as FP32 (the parser casts it down). */
export function trtTypeOf(dtype: DataType): TrtType | undefined {
  switch (dtype) {
    case DataType.FLOAT: case DataType.DOUBLE: return 'FP32';
    case DataType.FLOAT16: return 'FP16';
    case DataType.BFLOAT16: return 'BF16';
    case DataType.INT32: return 'INT32';
    case DataType.INT64: return 'INT64';
    case DataType.BOOL: return 'BOOL';
    case DataType.UINT8: return 'UINT8';
    case DataType.INT8: return 'INT8';
    case DataType.FLOAT8E4M3FN: case DataType.FLOAT8E5M2: return 'FP8';
    case DataType.FLOAT4E2M1: return 'FP4';
    case DataType.INT4: return 'INT4';
    default: return undefined;
  }
}

/** Restrictions the checker enforces; each has a row in RESTRICTIONS and a predicate in restrictions.ts. */
export type RestrictionId =
  | 'attention_4d'
  | 'attention_no_past'
  | 'attention_no_nonpad_kv_seqlen'
  | 'attention_no_present'
  | 'attention_no_qk_output'
  | 'attention_no_softcap'
  | 'attention_causal_alignment'
  | 'attention_causal_with_mask'
  | 'rotary_position_ids_int64'
  | 'tensor_scatter_4d'
  | 'tensor_scatter_axis'
  | 'reduce_axes_initializer'
  | 'squeeze_axes_constant'
  | 'unsqueeze_axes_constant'
  | 'scatter_nd_reduction_none'
  | 'layer_norm_single_output'
  | 'cumsum_axis_constant'
  | 'topk_sorted_k'
  | 'dropout_inference'
  | 'constant_attributes';

export interface RestrictionInfo {
  readonly id: RestrictionId;
  /** What the matrix (or API) says, in our words. */
  readonly text: string;
  readonly source: string;
}

export const RESTRICTIONS: Readonly<Record<RestrictionId, RestrictionInfo>> = {
  attention_4d: { id: 'attention_4d', text: 'Q, K, V and attn_mask must be 4-D', source: `${SOURCES.MATRIX_10_15} (Attention row; since 10.14 per ${SOURCES.ISSUE_7})` },
  attention_no_past: { id: 'attention_no_past', text: 'past_key and past_value inputs are unsupported', source: `${SOURCES.MATRIX_10_15} (Attention row)` },
  attention_no_nonpad_kv_seqlen: { id: 'attention_no_nonpad_kv_seqlen', text: 'the nonpad_kv_seqlen input is unsupported', source: `${SOURCES.MATRIX_10_15} (Attention row)` },
  attention_no_present: { id: 'attention_no_present', text: 'present_key and present_value outputs are unsupported', source: `${SOURCES.MATRIX_10_15} (Attention row)` },
  attention_no_qk_output: { id: 'attention_no_qk_output', text: 'the qk_matmul_output output and a non-zero qk_matmul_output_mode are unsupported', source: `${SOURCES.MATRIX_10_15} (Attention row)` },
  attention_no_softcap: { id: 'attention_no_softcap', text: 'softcap is unsupported (must be absent or 0)', source: `${SOURCES.MATRIX_10_15} (Attention row)` },
  attention_causal_alignment: {
    id: 'attention_causal_alignment',
    text: "is_causal=1 only where the query and key lengths are provably equal: TensorRT's causal mask is top-left aligned, which is wrong for decode and chunked prefill",
    source: `${SOURCES.IATTENTION_10_15}; ${SOURCES.ISSUE_7}; ${SOURCES.DESIGN}`,
  },
  attention_causal_with_mask: { id: 'attention_causal_with_mask', text: 'is_causal=1 cannot be combined with an attn_mask input', source: SOURCES.IATTENTION_10_15 },
  rotary_position_ids_int64: { id: 'rotary_position_ids_int64', text: 'position_ids must be INT64', source: `${SOURCES.MATRIX_10_15} (RotaryEmbedding row)` },
  tensor_scatter_4d: { id: 'tensor_scatter_4d', text: 'past_cache and update must be 4-D', source: `${SOURCES.MATRIX_10_15} (TensorScatter row)` },
  tensor_scatter_axis: { id: 'tensor_scatter_axis', text: 'axis must be -2', source: `${SOURCES.MATRIX_10_15} (TensorScatter row)` },
  reduce_axes_initializer: { id: 'reduce_axes_initializer', text: 'the axes input must be an initializer', source: `${SOURCES.MATRIX_10_15} (Reduce* rows)` },
  squeeze_axes_constant: { id: 'squeeze_axes_constant', text: 'axes must be resolvable to a constant', source: `${SOURCES.MATRIX_10_15} (Squeeze row)` },
  unsqueeze_axes_constant: { id: 'unsqueeze_axes_constant', text: 'axes must be resolvable to a constant', source: `${SOURCES.MATRIX_10_15} (Unsqueeze row)` },
  scatter_nd_reduction_none: { id: 'scatter_nd_reduction_none', text: "reduction other than 'none' is unsupported", source: `${SOURCES.MATRIX_10_15} (ScatterND row)` },
  layer_norm_single_output: { id: 'layer_norm_single_output', text: 'only the first output Y is supported', source: `${SOURCES.MATRIX_10_15} (LayerNormalization row)` },
  cumsum_axis_constant: { id: 'cumsum_axis_constant', text: 'axis must be a build-time constant', source: `${SOURCES.MATRIX_10_15} (CumSum row)` },
  topk_sorted_k: { id: 'topk_sorted_k', text: 'sorted must be 1 and K must be less than 3840', source: `${SOURCES.MATRIX_10_15} (TopK row)` },
  dropout_inference: { id: 'dropout_inference', text: 'is_training must be an initializer that is false', source: `${SOURCES.MATRIX_10_15} (Dropout row)` },
  constant_attributes: { id: 'constant_attributes', text: 'sparse_value, value_string and value_strings are unsupported', source: `${SOURCES.MATRIX_10_15} (Constant row)` },
};

/** One supported operator. */
export interface OpSupport {
  readonly op: string;
  /** Supported element types (the matrix's "Supported Types"); undefined = not checked (control flow). */
  readonly types?: readonly TrtType[];
  /** Input indices whose element type must be in `types` (default [0]; 'all' = every input). */
  readonly typedInputs?: readonly number[] | 'all';
  /** Also check the first output's element type (Cast, generators). */
  readonly typedOutput?: boolean;
  /** First modelled TensorRT version that imports the op (default: every modelled version). */
  readonly since?: TrtVersion;
  /** Types that arrived later than the op (checked only from that version on). */
  readonly laterTypes?: { readonly since: string; readonly types: readonly TrtType[]; readonly source: string };
  /** The op's restrictions (checked wherever the op is supported). */
  readonly restrictions?: readonly RestrictionId[];
  readonly source: string;
}

const F: readonly TrtType[] = ['FP32', 'FP16', 'BF16'];
const FI: readonly TrtType[] = [...F, 'INT32', 'INT64'];
const FIB: readonly TrtType[] = [...FI, 'BOOL'];
const F16: readonly TrtType[] = ['FP32', 'FP16'];
const CAST_TYPES: readonly TrtType[] = [...FI, 'UINT8', 'BOOL'];
const CONST_TYPES: readonly TrtType[] = [...F, 'FP8', 'FP4', 'INT4', 'INT32', 'INT64', 'BOOL'];

const M = SOURCES.MATRIX_10_15;
const row = (op: string, types: readonly TrtType[] | undefined, extra: Partial<OpSupport> = {}): OpSupport => ({ op, types, source: M, ...extra });
const reduce = (op: string) => row(op, FI, { restrictions: ['reduce_axes_initializer'] });

/** Every operator the 10.15 matrix marks supported ("Y"), with the version each arrived in where later than 10.8. */
export const SUPPORTED_OPS: readonly OpSupport[] = [
  row('Abs', FI), row('Acos', F), row('Acosh', F), row('Add', FI), row('And', ['BOOL'], { typedInputs: 'all' }),
  row('ArgMax', FI), row('ArgMin', FI), row('Asin', F), row('Asinh', F), row('Atan', F), row('Atanh', F),
  row('Attention', [...F, 'INT8', 'FP8'], {
    typedInputs: [0, 1, 2],
    since: '10.14',
    source: `${M}; ${SOURCES.CHANGELOG} (10.14: added Attention)`,
    restrictions: ['attention_4d', 'attention_no_past', 'attention_no_nonpad_kv_seqlen', 'attention_no_present', 'attention_no_qk_output', 'attention_no_softcap', 'attention_causal_alignment', 'attention_causal_with_mask'],
  }),
  row('AveragePool', F), row('BatchNormalization', F), row('BlackmanWindow', F16, { typedInputs: [], typedOutput: true }),
  row('Cast', CAST_TYPES, { typedOutput: true }), row('CastLike', CAST_TYPES, { typedOutput: true }), row('Ceil', F), row('Celu', F), row('Clip', F),
  row('Concat', FIB, { typedInputs: 'all' }), row('Constant', CONST_TYPES, { typedInputs: [], typedOutput: true, restrictions: ['constant_attributes'] }),
  row('ConstantOfShape', CONST_TYPES, { typedInputs: [], typedOutput: true }), row('Conv', F), row('ConvTranspose', F), row('Cos', F), row('Cosh', F),
  row('CumSum', F, { restrictions: ['cumsum_axis_constant'] }), row('DeformConv', F16), row('DepthToSpace', FI),
  row('DequantizeLinear', ['INT8', 'FP8', 'FP4', 'INT4']), row('Div', FI), row('Dropout', F, { restrictions: ['dropout_inference'] }),
  row('Einsum', F, { typedInputs: 'all' }), row('Elu', F), row('Equal', FI), row('Erf', F), row('Exp', F), row('Expand', FIB),
  row('EyeLike', FIB), row('Flatten', FIB), row('Floor', F), row('Gather', FIB), row('GatherElements', FIB), row('GatherND', FIB),
  row('Gelu', [...F, 'INT8', 'INT32', 'INT64']), row('Gemm', F), row('GlobalAveragePool', F), row('GlobalLpPool', F), row('GlobalMaxPool', F),
  row('Greater', FI), row('GreaterOrEqual', FI), row('GridSample', F16), row('GroupNormalization', F), row('GRU', F),
  row('HammingWindow', F16, { typedInputs: [], typedOutput: true }), row('HannWindow', F16, { typedInputs: [], typedOutput: true }), row('HardSigmoid', F), row('HardSwish', F), row('Hardmax', F),
  row('Identity', FIB), row('If', undefined), row('ImageScaler', F), row('InstanceNormalization', F), row('IsInf', F), row('IsNaN', FI),
  row('LayerNormalization', F, { restrictions: ['layer_norm_single_output'] }), row('LeakyRelu', F), row('Less', FI), row('LessOrEqual', FI),
  row('Log', F), row('LogSoftmax', F), row('Loop', undefined), row('LRN', F), row('LSTM', F), row('LpNormalization', F), row('LpPool', F),
  row('MatMul', F, { typedInputs: [0, 1] }), row('Max', FI, { typedInputs: 'all' }), row('MaxPool', F), row('Mean', [...F, 'FP8', 'INT32', 'INT64'], { typedInputs: 'all' }),
  row('MeanVarianceNormalization', F), row('Min', FI, { typedInputs: 'all' }), row('Mish', F16), row('Mod', FI), row('Mul', FI), row('Neg', FI),
  row('NonMaxSuppression', F16), row('NonZero', F16), row('Not', ['BOOL']), row('OneHot', FIB, { typedInputs: [2] }), row('Or', ['BOOL'], { typedInputs: 'all' }),
  row('Pad', FI), row('ParametricSoftplus', F),
  row('Pow', F, { laterTypes: { since: '10.12', types: ['INT32', 'INT64'], source: `${SOURCES.CHANGELOG} (10.12: integer-typed base tensors for Pow)` } }),
  row('PRelu', F), row('QuantizeLinear', F), row('RandomNormal', F, { typedInputs: [], typedOutput: true }), row('RandomNormalLike', F, { typedInputs: [], typedOutput: true }),
  row('RandomUniform', F, { typedInputs: [], typedOutput: true }), row('RandomUniformLike', F, { typedInputs: [], typedOutput: true }), row('Range', FI), row('Reciprocal', F),
  reduce('ReduceL1'), reduce('ReduceL2'), reduce('ReduceLogSum'), reduce('ReduceLogSumExp'), reduce('ReduceMax'), reduce('ReduceMean'),
  reduce('ReduceMin'), reduce('ReduceProd'), reduce('ReduceSum'), reduce('ReduceSumSquare'),
  row('Relu', FI), row('Reshape', FIB), row('Resize', F), row('ReverseSequence', FIB),
  row('RMSNormalization', F, { since: '10.15', source: `${M}; ${SOURCES.CHANGELOG} (10.15: added RMSNormalization)` }),
  row('RNN', F), row('RoiAlign', F16),
  row('RotaryEmbedding', F, { since: '10.15', source: `${M}; ${SOURCES.CHANGELOG} (10.15: added RotaryEmbedding)`, restrictions: ['rotary_position_ids_int64'] }),
  row('Round', F), row('STFT', ['FP32']), row('ScaledTanh', F), row('Scan', undefined), row('Scatter', FI), row('ScatterElements', FI),
  row('ScatterND', FI, { restrictions: ['scatter_nd_reduction_none'] }), row('Selu', F), row('Shape', FIB), row('Shrink', FI), row('Sigmoid', F),
  row('Sign', FI), row('Sin', F), row('Sinh', F), row('Size', FIB), row('Slice', FIB), row('Softmax', F), row('Softplus', F), row('Softsign', F),
  row('SpaceToDepth', FI), row('Split', FIB), row('Sqrt', F), row('Squeeze', FIB, { restrictions: ['squeeze_axes_constant'] }),
  row('Sub', FI), row('Sum', FI, { typedInputs: 'all' }), row('Tan', F), row('Tanh', F),
  row('TensorScatter', [...F, 'INT32'], { typedInputs: [0, 1], since: '10.15', source: `${M}; ${SOURCES.CHANGELOG} (10.15: added TensorScatter)`, restrictions: ['tensor_scatter_4d', 'tensor_scatter_axis'] }),
  row('ThresholdedRelu', F), row('Tile', FIB), row('TopK', FI, { restrictions: ['topk_sorted_k'] }), row('Transpose', FIB), row('Trilu', FIB),
  row('Unsqueeze', FIB, { restrictions: ['unsqueeze_axes_constant'] }), row('Upsample', F), row('Where', FIB, { typedInputs: [1, 2] }), row('Xor', ['BOOL'], { typedInputs: 'all' }),
];

/** Operators the 10.15 matrix lists as unsupported ("N"). */
export const UNSUPPORTED_OPS: readonly string[] = [
  'AffineGrid', 'Bernoulli', 'BitShift', 'BitwiseAnd', 'BitwiseNot', 'BitwiseOr', 'BitwiseXor', 'Col2Im', 'CenterCropPad', 'Compress',
  'ConcatFromSequence', 'ConvInteger', 'DFT', 'Det', 'DynamicQuantizeLinear', 'ImageDecoder', 'MatMulInteger', 'MaxRoiPool', 'MaxUnpool',
  'MelWeightMatrix', 'Multinomial', 'NegativeLogLikelihoodLoss', 'Optional', 'OptionalGetElement', 'OptionalHasElement', 'QLinearConv',
  'QLinearMatMul', 'RegexFullMatch', 'SequenceAt', 'SequenceConstruct', 'SequenceEmpty', 'SequenceErase', 'SequenceInsert', 'SequenceLength',
  'SequenceMap', 'SoftmaxCrossEntropyLoss', 'SplitToSequence', 'StringConcat', 'StringNormalizer', 'StringSplit', 'TfIdfVectorizer', 'Unique',
];

const BY_OP: ReadonlyMap<string, OpSupport> = new Map(SUPPORTED_OPS.map((s) => [s.op, s]));

/** The matrix row of an ai.onnx op, or undefined when the matrix does not support it. */
export function opSupport(op: string): OpSupport | undefined {
  return BY_OP.get(op);
}

/**
 * ai.onnx ops introduced after opset 22 that appear in the matrix, with their opset. Every other matrix op
 * existed at opset 22 with the same semantics (the opset-23/24 revisions of those ops only widened type lists:
 * FLOAT4E2M1 at 23, FLOAT8E8M0 at 24), so a model whose import says 23/24 can say 22 once these are gone.
 */
export const OPS_INTRODUCED_AFTER_22: Readonly<Record<string, number>> = {
  Attention: 23, RMSNormalization: 23, RotaryEmbedding: 23, TensorScatter: 24,
};

/** Element types introduced by opsets 23 and 24 (a model using them cannot be re-imported at a lower opset). */
export const TYPES_INTRODUCED: ReadonlyMap<DataType, number> = new Map([[DataType.FLOAT4E2M1, 23], [DataType.FLOAT8E8M0, 24]]);
