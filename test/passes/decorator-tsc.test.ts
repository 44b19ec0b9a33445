import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ts from 'typescript';

/**
 * The decorator must also work as `tsc` emits it (TC39 standard decorators, no experimentalDecorators), not
 * only under @swc/jest. Transpiles the registry, its error module and a decorated class with the project's
 * compiler options into a temporary folder and runs them in plain Node.
 */
describe('@loweringPass under tsc', () => {
  const root = path.resolve(__dirname, '../..');
  let dir: string;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lower-decorator-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('registers a decorated class on import', () => {
    const config = ts.readConfigFile(path.join(root, 'tsconfig.json'), ts.sys.readFile);
    const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
    expect(options.experimentalDecorators).toBeFalsy();
    const emit = (rel: string, source: string) => {
      const out = ts.transpileModule(source, { compilerOptions: { ...options, sourceMap: false, declaration: false }, fileName: rel });
      const target = path.join(dir, rel.replace(/\.ts$/, '.js'));
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, out.outputText);
      return out.outputText;
    };
    emit('ir/errors.ts', fs.readFileSync(path.join(root, 'src/ir/errors.ts'), 'utf8'));
    emit('passes/registry.ts', fs.readFileSync(path.join(root, 'src/passes/registry.ts'), 'utf8'));
    const js = emit('passes/sample.ts', `
      import { loweringPass, defaultRegistry } from './registry';
      @loweringPass({ name: 'sample', description: 'sample pass', before: ['dce'] })
      export class Sample {
        readonly inPlace = true;
        run(model: unknown) { return { model, modified: false }; }
      }
      export { defaultRegistry };
    `);
    // tsc lowers standard decorators to its __esDecorate helper, not the legacy __decorate.
    expect(js).toContain('__esDecorate');
    expect(js).not.toContain('__decorate(');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(path.join(dir, 'passes/sample.js')) as {
      Sample: new () => unknown;
      defaultRegistry: { get(name: string): { before: string[]; factory(): unknown } };
    };
    const def = mod.defaultRegistry.get('sample');
    expect(def.before).toEqual(['dce']);
    expect(def.factory()).toBeInstanceOf(mod.Sample);
  });
});
