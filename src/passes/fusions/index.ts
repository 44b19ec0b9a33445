// Importing this module registers the LLM fusion passes; the `llm` pipeline lists them as optional steps after
// sdpa_canonicalize, in this order: rmsnorm_fusion, rotary_fusion, gelu_fusion, silu_gate_fusion, skip_add,
// matmul_add_gemm.
export { RmsnormFusion } from './rmsnorm-fusion';
export { RotaryFusion, rotaryMaxPositions, ROTARY_MAX_POSITIONS_KEY } from './rotary-fusion';
export { GeluFusion, geluRules, geluTanhRule, geluErfRule } from './gelu-fusion';
export { SiluGateFusion, siluGateRule, SILU_GATE_KEYS } from './silu-gate-fusion';
export { SkipAdd, skipAddRules, SKIP_ADD_KEY } from './skip-add';
export { MatmulAddGemm, matmulAddGemmRule } from './matmul-add-gemm';
export { rmsnormRules, rmsnormRule, rmsnormUnscaledRule } from './rmsnorm/rules';
export { rotaryRules, DEFAULT_ROTARY_MAX_POSITIONS } from './rotary/rules';
export { proveTables, tabulate } from './rotary/position-table';
export { FUSION_KEY, FUSION_GROUP_KEY } from './util';
