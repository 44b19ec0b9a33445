import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const CLI = path.join(__dirname, '..', '..', 'dist', 'cli', 'main.js');

describe('CLI output to a closed pipe', () => {
  const built = fs.existsSync(CLI);
  (built ? it : it.skip)('`passes | head -1` ends quietly (no unhandled EPIPE)', () => {
    const r = spawnSync('bash', ['-c', `node ${JSON.stringify(CLI)} passes | head -1; echo "rc=\${PIPESTATUS[0]}"`], { encoding: 'utf8', timeout: 60000 });
    expect(r.stdout).toMatch(/^Passes/);
    expect(r.stdout).toMatch(/rc=0/);
    expect(r.stderr).not.toMatch(/EPIPE|Unhandled/);
  });
});
