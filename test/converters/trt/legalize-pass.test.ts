import '../../../src/converters/trt';
import { PROFILE_METADATA_KEY, readProfileHints, TARGET_METADATA_KEY, TrtLegalize } from '../../../src/converters/trt';
import { DataType } from '../../../src/ir/dtype';
import { PassManager, PipelineError } from '../../../src/passes/pass-manager';
import { defaultRegistry } from '../../../src/passes/registry';
import { lowerLlm, llmSteps } from '../../../src/passes/llm';
import { loadExport } from '../../helpers/models';
import { tiny } from './graphs';

describe('trt_legalize pass', () => {
  test('importing src/converters/trt registers it in the default registry, ordered after the cache passes and before dce', () => {
    const def = defaultRegistry.get('trt_legalize');
    expect(def.factory()).toBeInstanceOf(TrtLegalize);
    const order = defaultRegistry.resolve(['dce', 'trt_legalize', 'static_cache_v3']).map((d) => d.name);
    expect(order).toEqual(['static_cache_v3', 'trt_legalize', 'dce']);
    expect(llmSteps({ target: 'trt@10.8' })).toContain('trt_legalize');
  });

  test('lowerLlm with a target runs it and records the target and profile hints in metadata_props', () => {
    const report = lowerLlm(loadExport('llama', 23), { cache: 'static_v3', target: 'trt@10.14', maxSeqLen: 64 });
    const run = report.passes.find((p) => p.name.endsWith('trt_legalize'));
    expect(run?.counts).toMatchObject({ rms_norm_decomposed: 5, rotary_decomposed: 4, tensor_scatter_legacy: 4, opset_lowered: 1 });
    const m = report.model;
    expect(m.metadata.get(TARGET_METADATA_KEY)).toBe('trt@10.14');
    expect(m.opset('')).toBe(23);
    const hints = readProfileHints(m);
    expect(hints?.map((h) => h.name)).toEqual(['input_ids', 'position_ids']); // caches are static at 64
    expect(hints?.[0]).toEqual({ name: 'input_ids', min: [1, 1], opt: [1, 1], max: [1, 64] });
    expect(m.metadata.has(PROFILE_METADATA_KEY)).toBe(true);
  });

  test('what cannot be legalised makes the pass fail with the checker\'s list (unless trtAllowViolations)', () => {
    const t = tiny(23);
    t.output(t.b.op('ReduceSum', [t.input('x', DataType.FLOAT, [2, 3]), t.input('axes', DataType.INT64, [1])]), 'y', DataType.FLOAT);
    const pm = () => new PassManager(defaultRegistry.instantiate(['trt_legalize']));
    let error: unknown;
    try {
      pm().run(t.model, { target: 'trt@10.15' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PipelineError);
    expect((error as Error).message).toMatch(/pass 'trt_legalize' failed.*1 node\(s\) remain that TensorRT 10.15 rejects: node 'ReduceSum_node' \(ReduceSum\): ReduceSum axes 'axes' is computed by a graph input/);
    const report = pm().run(t.model, { target: 'trt@10.15', trtAllowViolations: true });
    expect(report.model.metadata.get(TARGET_METADATA_KEY)).toBe('trt@10.15');
  });

  test('a malformed or unknown target is refused before anything changes', () => {
    const t = tiny(23);
    t.output(t.b.op('Relu', [t.input('x', DataType.FLOAT, [2])]), 'y', DataType.FLOAT, [2]);
    const pm = new PassManager(defaultRegistry.instantiate(['trt_legalize']));
    expect(() => pm.run(t.model, { target: 'trt@11.0' })).toThrow(/no operator support data for TensorRT 11.0/);
    expect(() => pm.run(t.model, { target: 'trt10' })).toThrow(/not of the form trt@MAJOR.MINOR/);
    // Default target when none is given: trt@10.15.
    expect(pm.run(t.model, {}).model.metadata.get(TARGET_METADATA_KEY)).toBe('trt@10.15');
  });
});
