/**
 * The runtime bundle for agents: `hotpatch/runtime` (runtime/index.ts) as one minified ESM file,
 * platform neutral, with the pe-parser's .wasm next to it (the loader's default URL is
 * `./pe_parser_bg.wasm` relative to the module). `node:*` stays external: the only one
 * reachable is the wasm loader's dynamic `import('node:fs/promises')`, taken only under Node
 * for a file: URL; elsewhere the loader uses fetch, or the embedder passes the bytes to
 * initPeParser. One definition for the build (dist/bundle/), the bench (its size) and the
 * test that holds it free of the compiler's dependencies.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { build, type Metafile } from 'esbuild';

/** File names inside the bundle's folder. */
export const RUNTIME_BUNDLE_JS = 'hotpatch-runtime.js';
export const RUNTIME_BUNDLE_WASM = 'pe_parser_bg.wasm';

/** Bundles runtime/index.ts of the checkout at `root` into `outDir`; returns esbuild's metafile. */
export async function bundleRuntime(root: string, outDir: string): Promise<Metafile> {
  mkdirSync(outDir, { recursive: true });
  const r = await build({
    entryPoints: [join(root, 'runtime/index.ts')],
    outfile: join(outDir, RUNTIME_BUNDLE_JS),
    absWorkingDir: root,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    minify: true,
    external: ['node:*'],
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
  copyFileSync(join(root, 'runtime/pe-parser/pkg/pe_parser_bg.wasm'), join(outDir, RUNTIME_BUNDLE_WASM));
  return r.metafile;
}

/** The npm packages a metafile's inputs come from (`node_modules/NAME/...`, scoped names kept whole). */
export function bundledPackages(meta: Metafile): string[] {
  const names = new Set<string>();
  for (const input of Object.keys(meta.inputs)) {
    const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m !== null) names.add(m[1]!);
  }
  return [...names].sort();
}
