/**
 * The portable core: runtime/ (outside its Node backends) runs in any JS runtime.
 * 1. Static: the import graph of runtime/index.ts has no static import of a `node:` module
 *    or a Node builtin.
 * 2. Dynamic: runtime/index.ts and the flow load → plan → apply → revert are bundled with
 *    esbuild (platform neutral, only `node:*` external) and run in a worker whose Node globals
 *    (process, Buffer, setImmediate, global, require, module) are deleted before the bundle
 *    loads; the result must equal the same flow run here under Node.
 * 3. The same from a signed package FILE: signature verified with WebCrypto, payload
 *    decompressed by the TypeScript zstd decoder, decoded, planned, applied, reverted; bad
 *    files refused with zero steps executed; also in a Node ESM realm (process, no require).
 */
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { buildHandPackage } from './apply/testing/hand-package.ts';
import { packageToJson } from './apply/testing/package-json.ts';
import { runPortable, runPortableFile, type PortableFileResult, type PortableResult } from './apply/testing/portable-entry.ts';
import { encodePackage, readHeader } from '../formats/container.ts';
import { generateKeyPair, toHex } from '../formats/keys.ts';
import { sampleBytes } from './apply/testing/fixtures.ts';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Left out of the bundle: `node:` modules only (the pe-parser loader's dynamic import runs
 * only where `process` exists). Nothing else needs configuring: the package loader's zstd
 * decoder is plain TypeScript, and the compressor's zstd-codec is never reached from here.
 */
const BUNDLE_EXTERNAL = ['node:*'];

/** Static import specifiers of a TS/JS source (not dynamic `import()`, which is guarded at run time). */
function staticImports(source: string): string[] {
  const out: string[] = [];
  const re = /^\s*(?:import|export)\s[^'"]*?\sfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/gm;
  for (const m of source.matchAll(re)) out.push((m[1] ?? m[2])!);
  return out;
}

describe('portable runtime core', () => {
  it('imports no node: module or Node builtin anywhere in its static import graph', () => {
    const seen = new Set<string>();
    const bare = new Map<string, string>();
    const walk = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const spec of staticImports(readFileSync(file, 'utf8'))) {
        if (spec.startsWith('.')) walk(resolve(dirname(file), spec));
        else bare.set(spec, file);
      }
    };
    walk(join(here, 'index.ts'));
    expect(seen.size).toBeGreaterThan(10);
    const nodeOnes = [...bare.entries()].filter(([spec]) => spec.startsWith('node:') || isBuiltin(spec));
    expect(nodeOnes).toEqual([]);
    // Nothing from the Node layer is reachable.
    expect([...seen].filter((f) => f.includes('win32-agent') || f.includes('/cli/'))).toEqual([]);
  });

  it('runs load → plan → apply → revert in a worker without Node globals, same result as under Node', async () => {
    const v1 = sampleBytes('new-helper', 'v1.dll');
    const pkgJson = packageToJson(buildHandPackage(v1, sampleBytes('new-helper', 'v2.dll'), { changed: ['average_percent'], added: ['clamp_percent'] }));
    const wasm = new Uint8Array(readFileSync(join(here, 'pe-parser/pkg/pe_parser_bg.wasm')));
    await withBundle(async (url) => {
      const msg = await runInBareWorker<PortableResult>(url, 'runPortable', [wasm, v1, pkgJson]);
      expect(msg.error).toBeUndefined();
      const inWorker = msg.result!;
      expect(inWorker.nodeGlobals).toEqual(NO_NODE_GLOBALS);
      expect(inWorker.revertedIdentical).toBe(true);

      const underNode = await runPortable(wasm, v1, pkgJson);
      expect(underNode.nodeGlobals['process']).toBe('object');
      expect(inWorker.plan).toBe(underNode.plan);
      expect(inWorker.patchedHash).toBe(underNode.patchedHash);
    });
  });

  it('loads a signed package FILE (WebCrypto signature, zstd, decode), applies and reverts it in a worker without Node globals; bad files refused untouched', async () => {
    const v1 = sampleBytes('new-helper', 'v1.dll');
    const pkg = buildHandPackage(v1, sampleBytes('new-helper', 'v2.dll'), { changed: ['average_percent'], added: ['clamp_percent'] });
    const keys = await generateKeyPair();
    const other = await generateKeyPair();
    const file = await encodePackage(pkg, { signingKey: keys.signingKey });
    if (!file.ok) throw new Error(file.error.message);
    const wasm = new Uint8Array(readFileSync(join(here, 'pe-parser/pkg/pe_parser_bg.wasm')));
    const args = [wasm, v1, file.value, keys.publicPem, other.publicPem];
    await withBundle(async (url) => {
      const msg = await runInBareWorker<PortableFileResult>(url, 'runPortableFile', args);
      expect(msg.error).toBeUndefined();
      const inWorker = msg.result!;
      expect(inWorker.nodeGlobals).toEqual(NO_NODE_GLOBALS);
      expect(inWorker.signature).toBe(`verified ${toHex(keys.signingKey.publicKey.id)}`);
      const header = readHeader(file.value);
      expect(inWorker.uncompressed).toBe(header.ok ? header.value.uncompressedLength : -1);
      expect(inWorker.refusals).toEqual({ tampered: 'SIG_BAD steps=0', untrusted: 'SIG_UNTRUSTED steps=0', 'over-bound': 'PKG_BOMB steps=0', truncated: 'PKG_TRUNCATED steps=0' });
      expect(inWorker.revertedIdentical).toBe(true);

      // The same bundle where `process` exists but `require` and `__dirname` do not (Node's
      // ESM realm, like Deno): Emscripten glue would take its Node path there and fail.
      const esmRealm = await runInBareWorker<PortableFileResult>(url, 'runPortableFile', args, { keepNodeGlobals: true });
      expect(esmRealm.error).toBeUndefined();
      expect(esmRealm.result!.nodeGlobals).toMatchObject({ process: 'object', Buffer: 'function', require: 'undefined', module: 'undefined' });
      expect(esmRealm.result!.plan).toBe(inWorker.plan);
      expect(esmRealm.result!.refusals).toEqual(inWorker.refusals);

      // The same file through the same flow under Node, and the decoded package applied
      // directly: one plan, one patched image.
      const underNode = await runPortableFile(wasm, v1, file.value, keys.publicPem, other.publicPem);
      expect(underNode.nodeGlobals['process']).toBe('object');
      expect(inWorker.plan).toBe(underNode.plan);
      expect(inWorker.patchedHash).toBe(underNode.patchedHash);
      const direct = await runPortable(wasm, v1, packageToJson(pkg));
      expect(inWorker.plan).toBe(direct.plan);
      expect(inWorker.patchedHash).toBe(direct.patchedHash);
    });
  });
});

const NO_NODE_GLOBALS = { process: 'undefined', Buffer: 'undefined', require: 'undefined', module: 'undefined', global: 'undefined', setImmediate: 'undefined' };

/** Bundles apply/testing/portable-entry.ts for a neutral platform and runs `f` on its URL. */
async function withBundle(f: (url: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hotpatch-portable-'));
  try {
    const out = join(dir, 'bundle.mjs');
    const r = await build({
      entryPoints: [join(here, 'apply/testing/portable-entry.ts')],
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      target: 'es2022',
      external: BUNDLE_EXTERNAL,
      outfile: out,
      logLevel: 'silent',
    });
    expect(r.errors).toEqual([]);
    const bundle = readFileSync(out, 'utf8');
    expect(bundle).not.toMatch(/\bfrom\s*["']node:/);
    // No Emscripten glue and no CommonJS require of a Node module came along.
    expect(bundle).not.toMatch(/require\(["'](?:node:)?(?:fs|path|crypto)["']\)|ENVIRONMENT_IS_NODE|zstd-codec-binding/);
    await f(pathToFileURL(out).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs export `fn` of the bundle at `url` in a worker whose Node globals are deleted first
 * (with `keepNodeGlobals`, only the CommonJS names: the bundle then runs as an ES module of
 * a Node realm, where zstd-codec's Emscripten glue failed with "__dirname is not defined").
 */
async function runInBareWorker<T>(url: string, fn: string, args: unknown[], opts: { keepNodeGlobals?: boolean } = {}): Promise<{ result?: T; error?: string }> {
  const workerCode = `
    const { parentPort, workerData } = require('node:worker_threads');
    const port = parentPort;
    const data = workerData;
    // An eval'd worker gets CommonJS names as globals; an ES module of a Node realm has none.
    for (const k of ['require', 'module', 'exports', '__filename', '__dirname']) delete globalThis[k];
    if (!data.keep) for (const k of ['process', 'Buffer', 'setImmediate', 'clearImmediate', 'global']) delete globalThis[k];
    import(data.url)
      .then((m) => m[data.fn](...data.args))
      .then((result) => port.postMessage({ result }), (e) => port.postMessage({ error: String(e && e.stack || e) }));
  `;
  const worker = new Worker(workerCode, { eval: true, workerData: { url, fn, args, keep: opts.keepNodeGlobals === true } });
  try {
    return await new Promise<{ result?: T; error?: string }>((resolveMsg, reject) => {
      worker.once('message', resolveMsg);
      worker.once('error', reject);
    });
  } finally {
    await worker.terminate();
  }
}
