export { decodeModel, modelFromProto, decodeType } from './decode';
export type { DecodeOptions } from './decode';
export { encodeModel, keepExternal, modelToProto, typeProto } from './encode';
export type { EncodeOptions, TensorPlacement } from './encode';
export { saveModel, planSave, PROTOBUF_LIMIT, AUTO_EXTERNAL_MARGIN } from './save';
export type { SaveOptions, SavePlan } from './save';
export { loadModel } from './load';
