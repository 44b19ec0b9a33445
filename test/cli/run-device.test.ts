// `onnx-lower run --backend cuda --device emulator` (issue 6): the device-resident generation (prefill, graph decode,
// argmax / sampling on the device) driven by the run command, on the runtime's CPU emulator, in process. Greedy
// equals the cpu backend; seeded sampling repeats and depends on the seed; timings are reported. Skipped where the
// emulator addon was not built.
import * as path from 'path';
import '../../src/passes';
import '../../src/passes/llm';
import { runCommand } from '../../src/cli/run';
import { loadAddon } from '../../src/runtime/native/addon';

const emulator = loadAddon('emulator').addon !== undefined;
const EAGER = path.join(__dirname, '..', '..', 'fixtures', 'models', 'llama-eager18');

async function run(args: string[]): Promise<Record<string, unknown>> {
  const out: string[] = [];
  const code = await runCommand(['--model', EAGER, '--input_ids', '3,17,42,9,100,7,1', '--num_tokens', '10', '--json', ...args], (s) => out.push(s), () => undefined);
  expect(code).toBe(0);
  return JSON.parse(out.join('\n')) as Record<string, unknown>;
}

(emulator ? describe : describe.skip)('run --backend cuda --device emulator', () => {
  test('greedy equals the cpu backend; sampling options give seeded, seed-dependent tokens; timings are reported', async () => {
    const cpu = await run(['--backend', 'cpu', '--ignore_eos']);
    const dev = await run(['--backend', 'cuda', '--device', 'emulator', '--cache', 'static_v3', '--ignore_eos']);
    expect(dev.output_ids).toEqual(cpu.output_ids);
    const sampling = ['--backend', 'cuda', '--device', 'emulator', '--temperature', '0.9', '--top_k', '20', '--top_p', '0.9', '--ignore_eos', '--batch_size', '2'];
    const a = await run([...sampling, '--seed', '5']);
    const b = await run([...sampling, '--seed', '5']);
    const c = await run([...sampling, '--seed', '6']);
    const ids = a.output_ids as number[][];
    expect(ids).toHaveLength(2);
    expect(ids.every((r) => r.length === 10)).toBe(true);
    expect(b.output_ids).toEqual(a.output_ids);
    expect(c.output_ids).not.toEqual(a.output_ids);
    expect(a.output_ids).not.toEqual([cpu.output_ids, cpu.output_ids].flat());
    const t = a.timings as { prefill_ms: number; decode_ms: { count: number; p50: number } };
    expect(t.prefill_ms).toBeGreaterThan(0);
    expect(t.decode_ms.count).toBe(9);
    expect(t.decode_ms.p50).toBeGreaterThan(0);
  });

  test('invalid sampling options fail with the typed error before generating', async () => {
    await expect(runCommand(['--model', EAGER, '--input_ids', '1,2,3', '--num_tokens', '2', '--backend', 'cuda', '--device', 'emulator', '--temperature', '1', '--top_p', '1.5'], () => undefined, () => undefined))
      .rejects.toMatchObject({ code: 'SAMPLING' });
  });
});
