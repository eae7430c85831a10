/**
 * The compiled CLI (what bin/hotpatch.cjs runs), in two esbuild builds into one folder:
 *
 *  1. `main.cjs`: cli/main.ts as one minified CommonJS file, with the commands that must start fast
 *     (FAST_COMMANDS: `pe`) inside it. CommonJS because Node starts a CommonJS entry
 *     without its ES module loader, and importing `node:fs` or `node:util` from CommonJS
 *     does not load the modules behind their lazy properties (fs.promises and its streams,
 *     util's MIME classes), as building an ES module namespace does. Measured with callgrind on Node 20
 *     (NODE_EXTRA_CA_CERTS unset, see bench/sections/startup.ts): an empty `.cjs` runs 91 M
 *     instructions, an empty `.mjs` 100 M, an `.mjs` importing node:fs 3 M more. CommonJS
 *     cannot hold a top-level await, so there runtime/pe/wasm.ts (which loads the wasm
 *     parser with one) is replaced by cli/load-pe-parser.ts, which loads it synchronously.
 *  2. Every other command as an ES module entry (`demo.js`, `diff.js`, ...) with code
 *     splitting, so shared code (the compiler, formats) is one chunk on disk; main.cjs
 *     `import()`s the one being run. They take seconds, so the ES module loader's cost
 *     does not matter there. The npm dependencies the compiler uses (iced-x86, protobufjs,
 *     zstd-codec) stay external, loaded from node_modules with their chunks.
 *
 * The pe-parser .wasm and the win32 agent are copied next to the chunks, where their loaders
 * look. Used by scripts/build.ts (dist/cli/).
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { commandName, commands } from '../cli/commands/index.ts';

/** Commands bundled into main.cjs itself: the ones whose start time is a target (issue #12). */
export const FAST_COMMANDS: readonly string[] = ['pe'];

/** Dependencies the CLI loads from node_modules. */
const CLI_EXTERNAL = ['iced-x86', 'protobufjs', 'protobufjs/*', 'zstd-codec', 'zstd-codec/*'];

const COMMON = { bundle: true, platform: 'node', target: 'node20', external: CLI_EXTERNAL, legalComments: 'none', logLevel: 'warning' } as const;

/**
 * For main.cjs: a command module that is not in FAST_COMMANDS, as cli/commands/index.ts
 * imports it, becomes the external ES module entry of build 2; runtime/pe/wasm.ts becomes
 * cli/load-pe-parser.ts.
 */
function commonJsEntry(root: string): Plugin {
  const registry = join(root, 'cli/commands/index.ts');
  const runtimePe = join(root, 'runtime/pe');
  return {
    name: 'hotpatch-cli-entry',
    setup(b) {
      b.onResolve({ filter: /^\.\/[a-z0-9-]+\.ts$/ }, (a) => {
        if (a.importer !== registry) return undefined;
        const name = basename(a.path, '.ts');
        return FAST_COMMANDS.includes(name) ? undefined : { path: `./${name}.js`, external: true };
      });
      b.onResolve({ filter: /^\.\/wasm\.ts$/ }, (a) => (a.resolveDir === runtimePe ? { path: join(root, 'cli/load-pe-parser.ts') } : undefined));
    },
  };
}

/** Builds the CLI of the checkout at `root` into `outDir`. */
export async function bundleCli(root: string, outDir: string): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const names = commands.map(commandName);
  for (const f of FAST_COMMANDS) if (!names.includes(f)) throw new Error(`bundle-cli: FAST_COMMANDS names ${f}, which cli/commands/index.ts does not list`);
  await build({
    ...COMMON,
    entryPoints: [join(root, 'cli/main.ts')],
    outfile: join(outDir, 'main.cjs'),
    format: 'cjs',
    // import.meta.url, which the wasm loader resolves the .wasm against, is the bundle's own
    // URL, built on first use: `--help` never loads the parser, so it never pays for it.
    define: { 'import.meta.url': 'bundleMeta.url' },
    banner: { js: "'use strict'; let bundleUrl; const bundleMeta = { get url() { return (bundleUrl ??= require('node:url').pathToFileURL(__filename).href); } };" },
    // Minified: V8 scans the whole file before it runs any of it, and every start pays that
    // per byte (35 KB -> 24 KB; the same output, bench section startup).
    minify: true,
    plugins: [commonJsEntry(root)],
  });
  await build({
    ...COMMON,
    entryPoints: names.filter((n) => !FAST_COMMANDS.includes(n)).map((n) => join(root, `cli/commands/${n}.ts`)),
    outdir: outDir,
    entryNames: '[name]',
    chunkNames: 'chunk-[hash]',
    splitting: true,
    format: 'esm',
  });
  copyFileSync(join(root, 'runtime/pe-parser/pkg/pe_parser_bg.wasm'), join(outDir, 'pe_parser_bg.wasm'));
  mkdirSync(join(outDir, 'win32-agent'), { recursive: true });
  copyFileSync(join(root, 'runtime/backends/win32-agent/agent.exe'), join(outDir, 'win32-agent/agent.exe'));
}
