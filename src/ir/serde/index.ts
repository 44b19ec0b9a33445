export { decodeModel, modelFromProto, decodeType } from './decode';
export type { DecodeOptions } from './decode';
export { encodeModel, modelToProto, typeProto } from './encode';
export type { EncodeOptions, TensorPlacement } from './encode';
export { saveModel, PROTOBUF_LIMIT } from './save';
export type { SaveOptions } from './save';
export { loadModel } from './load';
