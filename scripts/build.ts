// `npm run build` (also `prepare`, so `npm ci` in a clone and `npm pack` build it): compiles
// the TypeScript sources to dist/ and bundles the portable runtime for agents.
//
//  1. The library (`hotpatch/runtime`, `hotpatch/compiler`, `hotpatch/formats`): tsc -p
//     tsconfig.build.json, JavaScript + .d.ts of the three index files and what they import,
//     one .js per .ts in the sources' layout (`rewriteRelativeImportExtensions` turns the
//     `./x.ts` specifiers into `./x.js`). tsc because the .d.ts need it anyway, and a
//     per-file library lets an embedder's bundler keep only what it uses. Plus the files tsc
//     does not emit: the wasm parser's loader and .wasm, the generated protobuf code.
//  2. The CLI (bin/hotpatch.cjs requires dist/cli/main.cjs): scripts/bundle-cli.ts, esbuild
//     bundles: main.cjs, CommonJS, holding the commands that must start fast (pe), and every
//     other command as an ES module entry with code splitting, loaded only when that command
//     runs (cli/commands/index.ts). Arguments are parsed by Node's own parseArgs (cli/args.ts
//     says why not yargs). Measured on this 2-core machine under load, start-up CPU time over
//     `node -e 0`: the per-file tsc output +0.25 s (Node's ESM loader resolving ~60 files),
//     the ESM bundle +0.13 s (with yargs inlined, as it was); bundle-cli.ts has the figures
//     for CommonJS over ESM.
//  3. dist/bundle/: the runtime bundle for agents (scripts/bundle-runtime.ts),
//     `hotpatch/runtime/bundle` in package.json; bench/sections/startup.ts reports its size.
// Run through tsx (bin/run-ts.js), a devDependency: only the build needs it.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleCli } from './bundle-cli.ts';
import { bundleRuntime } from './bundle-runtime.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const require = createRequire(import.meta.url);
const started = performance.now();

/** Source files tsc does not emit, copied to the same place under dist/. */
const ASSETS = [
  'runtime/pe-parser/pkg/pe_parser.js',
  'runtime/pe-parser/pkg/pe_parser.d.ts',
  'runtime/pe-parser/pkg/pe_parser_bg.wasm',
  'formats/generated/hotpatch.js',
  'formats/generated/hotpatch.d.ts',
  'formats/zstd-codec.d.ts',
];

rmSync(dist, { recursive: true, force: true });

const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
if (tsc.status !== 0) {
  process.stderr.write(`build: tsc failed (exit ${tsc.status ?? tsc.signal})\n`);
  process.exit(1);
}

for (const file of ASSETS) {
  mkdirSync(dirname(join(dist, file)), { recursive: true });
  copyFileSync(join(root, file), join(dist, file));
}

await bundleCli(root, join(dist, 'cli'));

await bundleRuntime(root, join(dist, 'bundle'));

process.stderr.write(`build: dist/ in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
