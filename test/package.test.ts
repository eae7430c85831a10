/**
 * The npm package as a user gets it: `npm pack` of this checkout (its `prepare` builds dist/),
 * the tarball's file list, an offline install into an empty project (dependencies from the
 * npm cache that `npm ci` filled), `npx hotpatch demo` there, the README's "Embedding the
 * runtime" script (extracted from README.md, so the two cannot drift) run against
 * `hotpatch/runtime` and `hotpatch/runtime/bundle`, and a TypeScript consumer of the .d.ts.
 * Also: the runtime bundle holds none of the compiler's dependencies.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledPackages, bundleRuntime } from '../scripts/bundle-runtime.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };

/** The environment without the npm_* variables of an enclosing `npm test` (they would steer the nested npm). */
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));

function run(cmd: string, args: readonly string[], cwd: string, timeoutMs = 600_000): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env: cleanEnv, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (r.error !== undefined) throw r.error;
  return r;
}

function expectOk(r: SpawnSyncReturns<string>, what: string): void {
  if (r.status !== 0) throw new Error(`${what}: exit ${r.status ?? r.signal}\n${r.stderr.slice(-3000)}\n${r.stdout.slice(-2000)}`);
}

/** The first ```js block of the README's "Embedding the runtime" section. */
export function readmeEmbedExample(readme: string): string {
  const section = /\n## Embedding the runtime\n([\s\S]*?)\n## /.exec(readme)?.[1];
  if (section === undefined) throw new Error('README.md has no "## Embedding the runtime" section');
  const code = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  if (code === undefined) throw new Error('the "Embedding the runtime" section has no ```js block');
  return code;
}

describe('the npm package (npm pack, offline install, demo, embedding)', () => {
  let work = '';
  let project = '';
  let files: string[] = [];

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'hotpatch-pack-'));
    const packed = run('npm', ['pack', '--json', '--pack-destination', work], ROOT);
    expectOk(packed, 'npm pack');
    // Lifecycle output (prepare) may precede the JSON document on stdout.
    const json = packed.stdout.slice(packed.stdout.search(/^\[/m));
    const info = (JSON.parse(json) as Array<{ filename: string; files: Array<{ path: string }> }>)[0]!;
    expect(info.filename).toBe(`${PKG.name}-${PKG.version}.tgz`);
    files = info.files.map((f) => f.path).sort();

    project = join(work, 'consumer');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    expectOk(run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, info.filename)], project), 'npm install of the tarball');
  }, 1_200_000);

  afterAll(() => {
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  it('ships the compiled entry points and the demo samples, and no tests, sources, real corpus or bench results', () => {
    for (const f of ['package.json', 'README.md', 'bin/hotpatch.cjs', 'dist/cli/main.cjs', 'dist/cli/pe_parser_bg.wasm', 'dist/runtime/index.js', 'dist/runtime/index.d.ts', 'dist/compiler/index.js', 'dist/compiler/index.d.ts', 'dist/formats/index.js', 'dist/formats/index.d.ts', 'dist/bundle/hotpatch-runtime.js', 'dist/bundle/pe_parser_bg.wasm', 'samples/scenarios.json', 'samples/bin/logic-fix/v1.dll', 'samples/bin/logic-fix/v2.dll']) {
      expect(files).toContain(f);
    }
    const unwanted = files.filter(
      (f) => /\.test\.|(^|\/)(test|testing|fuzz)\//.test(f) || f.startsWith('samples/real/') || f.startsWith('bench/') || (f.endsWith('.ts') && !f.endsWith('.d.ts')) || f.endsWith('.stripped.dll') || f.endsWith('.c') || f.endsWith('.rs'),
    );
    expect(unwanted).toEqual([]);
  });

  it('hotpatch/runtime as installed imports no node: module, except the wasm loader reading its .wasm under Node', () => {
    const installed = join(project, 'node_modules/hotpatch/dist/runtime');
    const seen = new Set<string>();
    const nodeImports: string[] = [];
    const walk = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const src = readFileSync(file, 'utf8');
      for (const m of src.matchAll(/^\s*(?:import|export)\s[^'"]*?\sfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/gm)) {
        const spec = (m[1] ?? m[2])!;
        if (spec.startsWith('.')) walk(join(dirname(file), spec));
        else if (spec.startsWith('node:') || isBuiltin(spec)) nodeImports.push(`${file}: ${spec}`);
      }
      for (const m of src.matchAll(/\bimport\(\s*(?:\/\*[^*]*\*\/\s*)?['"](node:[^'"]+)['"]/g)) nodeImports.push(`${file.slice(installed.length)}: dynamic ${m[1]}`);
    };
    walk(join(installed, 'index.js'));
    expect(seen.size).toBeGreaterThan(20);
    expect(nodeImports).toEqual(['/pe/wasm-bridge.js: dynamic node:fs/promises']);
  });

  it('`npx hotpatch demo` runs the whole pipeline from the installed package', () => {
    const r = run('npx', ['--no', 'hotpatch', 'demo', '--out-dir', 'out'], project);
    expectOk(r, 'npx hotpatch demo');
    expect(r.stdout).toMatch(/^hotpatch demo: logic-fix/);
    expect(r.stdout).toContain('signature verified');
    expect(r.stdout).toContain('image byte-identical to before: yes');
    const size = Number(/logic-fix\.hpk: (\d+) bytes/.exec(r.stdout)?.[1]);
    expect(statSync(join(project, 'out/logic-fix.hpk')).size).toBe(size);
  });

  it("the README's embedding example applies the demo package with hotpatch/runtime and with hotpatch/runtime/bundle", () => {
    const example = readmeEmbedExample(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    expect(example).toContain("from 'hotpatch/runtime'");
    expect(example.trim().split('\n').length).toBeLessThanOrEqual(14);
    const args = ['out/logic-fix.hpk', 'node_modules/hotpatch/samples/bin/logic-fix/v1.dll', 'out/demo.pub'];
    if (!existsSync(join(project, 'out/logic-fix.hpk'))) expectOk(run('npx', ['--no', 'hotpatch', 'demo', '--out-dir', 'out'], project), 'npx hotpatch demo');
    writeFileSync(join(project, 'embed.mjs'), example);
    const lib = run('node', ['embed.mjs', ...args], project);
    expectOk(lib, 'node embed.mjs (hotpatch/runtime)');
    expect(lib.stdout).toMatch(/^patched sum_first in \d+\.\d\d ms\n$/);

    writeFileSync(join(project, 'embed-bundle.mjs'), example.replace("from 'hotpatch/runtime'", "from 'hotpatch/runtime/bundle'"));
    const bundled = run('node', ['embed-bundle.mjs', ...args], project);
    expectOk(bundled, 'node embed-bundle.mjs (hotpatch/runtime/bundle)');
    expect(bundled.stdout).toMatch(/^patched sum_first in \d+\.\d\d ms\n$/);

    // Another key (made by the installed CLI) is refused by the same script: it applies only
    // what the trusted key signed.
    expectOk(run('npx', ['--no', 'hotpatch', 'keygen', '--out', 'other'], project), 'npx hotpatch keygen');
    const refused = run('node', ['embed.mjs', args[0]!, args[1]!, 'other/hotpatch.pub'], project);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('SIG_UNTRUSTED');
  });

  it('the .d.ts of hotpatch/runtime, /compiler and /formats type-check a strict consumer', () => {
    writeFileSync(
      join(project, 'consumer.ts'),
      [
        "import { applyPackageFile, loadProcessImage, MemoryBackend, type ApplyFileReport } from 'hotpatch/runtime';",
        "import { buildPackage, COMPILER_VERSION } from 'hotpatch/compiler';",
        "import { encodePackage, describePackage } from 'hotpatch/formats';",
        'export async function patch(old: Uint8Array, hpk: Uint8Array): Promise<ApplyFileReport | string> {',
        "  const img = loadProcessImage(old, { name: 'a.dll' });",
        '  if (!img.ok) return img.error.message;',
        '  const r = await applyPackageFile(hpk, new MemoryBackend(img.value), { trusted: [], allowUnsigned: true });',
        '  return r.ok ? r.value : `${r.error.code}: ${r.error.message}`;',
        '}',
        'export const used = [buildPackage, COMPILER_VERSION, encodePackage, describePackage];',
      ].join('\n'),
    );
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const r = run(process.execPath, [tsc, '--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--typeRoots', join(ROOT, 'node_modules/@types'), 'consumer.ts'], project);
    expectOk(r, 'tsc on consumer.ts');
  });
});

describe('the runtime bundle for agents', () => {
  it('holds none of the compiler-side dependencies (iced-x86, protobufjs-cli, zstd-codec) and no compiler or CLI source', async () => {
    const out = mkdtempSync(join(tmpdir(), 'hotpatch-bundle-'));
    try {
      const meta = await bundleRuntime(ROOT, out);
      const packages = bundledPackages(meta);
      for (const p of ['iced-x86', 'protobufjs-cli', 'zstd-codec']) expect(packages).not.toContain(p);
      // What it does hold: protobufjs's minimal runtime (the package decoder) and `long`, its 64-bit integers.
      expect(packages.filter((p) => p !== 'protobufjs' && p !== 'long' && !p.startsWith('@protobufjs/'))).toEqual([]);
      const sources = Object.keys(meta.inputs).filter((f) => !f.includes('node_modules/'));
      expect(sources.filter((f) => /^(compiler|cli|bench|test)\//.test(f))).toEqual([]);
      expect(sources).toContain('runtime/index.ts');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
