/** Entry of the GPU-machine bundle (gpu.js): `correctness` (test/gpu) and `bench` (bench/gpu). */
import { bench } from './bench';
import { correctness } from '../../test/gpu/correctness';
import { readRefs } from '../../test/gpu/fixtures';
import { samplingCheck } from '../../test/gpu/sampling';

async function main(): Promise<number> {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === 'correctness') return correctness(rest);
  if (cmd === 'bench') return bench(rest);
  if (cmd === 'sampling') {
    const { refs, data } = readRefs(rest[0]);
    return (await samplingCheck(refs, data, rest.includes('--emulator') ? 'emulator' : 'cuda', '.')) ? 1 : 0;
  }
  console.error('usage: node gpu.js correctness REFS_DIR [...] | bench MODEL NAME [...] | sampling REFS_DIR [--emulator]');
  return 2;
}

main().then((code) => process.exit(code), (e) => {
  console.error(e);
  process.exit(1);
});
