/** Entry of the GPU-machine bundle (gpu.js): `correctness` (test/gpu) and `bench` (bench/gpu). */
import { bench } from './bench';
import { correctness } from '../../test/gpu/correctness';

async function main(): Promise<number> {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === 'correctness') return correctness(rest);
  if (cmd === 'bench') return bench(rest);
  console.error('usage: node gpu.js correctness REFS_DIR [...] | bench MODEL NAME [...]');
  return 2;
}

main().then((code) => process.exit(code), (e) => {
  console.error(e);
  process.exit(1);
});
