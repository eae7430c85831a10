/**
 * The import rules of .dependency-cruiser.cjs, checked with dependency-cruiser: compiler
 * stages import only earlier stages (image -> disasm -> eh -> functions -> match -> diff ->
 * emit -> verify), no import cycle anywhere, no library code importing a test helper. The
 * same rules are first shown to catch a later-stage import, a cycle and a test-helper
 * import in a small fixture tree, so a silent checker cannot pass for a clean repo.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult, type IForbiddenRuleType } from 'dependency-cruiser';
import { afterAll, describe, expect, test } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const config = createRequire(import.meta.url)(join(ROOT, '.dependency-cruiser.cjs')) as { forbidden: IForbiddenRuleType[] };

/** `rule: from -> to` for every violation found under `baseDir`. */
async function violations(baseDir: string, roots: string[]): Promise<string[]> {
  const r = await cruise(roots, {
    baseDir,
    validate: true,
    ruleSet: { forbidden: config.forbidden },
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['node_modules', '(^|/)pkg/', '^samples/real/cache'] },
  }, { extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'] });
  const out = r.output as ICruiseResult;
  return out.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort();
}

describe('import layers', () => {
  const fixture = mkdtempSync(join(tmpdir(), 'hp-layers-'));
  afterAll(() => rmSync(fixture, { recursive: true, force: true }));

  test('the rules catch a later-stage import, a cycle and a test helper in library code', { timeout: 120_000 }, async () => {
    const put = (path: string, text: string): void => {
      mkdirSync(dirname(join(fixture, path)), { recursive: true });
      writeFileSync(join(fixture, path), text);
    };
    put('compiler/image/shapes.ts', "export const shape = 1;\n");
    put('compiler/diff/diff.ts', "import { shape } from '../image/shapes.ts';\nimport { emit } from '../emit/emit.ts';\nexport const diff = shape + emit;\n");
    put('compiler/emit/emit.ts', "import { shape } from '../image/shapes.ts';\nexport const emit = shape;\n");
    put('compiler/match/a.ts', "import { b } from './b.ts';\nexport const a = () => b;\n");
    put('compiler/match/b.ts', "import { a } from './a.ts';\nexport const b = () => a;\n");
    put('runtime/x.ts', "import { helper } from '../test/support/helper.ts';\nexport const x = helper;\n");
    put('test/support/helper.ts', "export const helper = 2;\n");
    const found = await violations(fixture, ['compiler', 'runtime', 'test']);
    expect(found).toEqual([
      'compiler-diff-imports-later-stage: compiler/diff/diff.ts -> compiler/emit/emit.ts',
      'library-imports-test-helper: runtime/x.ts -> test/support/helper.ts',
      // A cycle is reported once, from the module the cruise met first.
      'no-circular: compiler/match/a.ts -> compiler/match/b.ts',
    ]);
  });

  test('the repository follows them', { timeout: 600_000 }, async () => {
    expect(await violations(ROOT, ['compiler', 'runtime', 'formats', 'common', 'cli', 'samples'])).toEqual([]);
  });
});
