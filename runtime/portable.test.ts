/**
 * The portable core: runtime/ (outside its Node backends) runs in any JS runtime.
 * 1. Static: the import graph of runtime/index.ts has no static import of a `node:` module
 *    or a Node builtin.
 * 2. Dynamic: runtime/index.ts and the flow load → plan → apply → revert are bundled with
 *    esbuild (platform neutral) and run in a worker whose Node globals (process, Buffer,
 *    setImmediate, global, require, module) are deleted before the bundle loads; the result must equal the
 *    same flow run here under Node.
 */
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { buildHandPackage } from './apply/testing/hand-package.ts';
import { packageToJson } from './apply/testing/package-json.ts';
import { runPortable, type PortableResult } from './apply/testing/portable-entry.ts';
import { sampleBytes } from './apply/testing/fixtures.ts';

const here = dirname(fileURLToPath(import.meta.url));

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

    const dir = mkdtempSync(join(tmpdir(), 'hotpatch-portable-'));
    try {
      const out = join(dir, 'bundle.mjs');
      const r = await build({
        entryPoints: [join(here, 'apply/testing/portable-entry.ts')],
        bundle: true,
        format: 'esm',
        platform: 'neutral',
        target: 'es2022',
        // The wasm loader's dynamic `import('node:fs/promises')` only runs where `process` exists.
        external: ['node:*'],
        outfile: out,
        logLevel: 'silent',
      });
      expect(r.errors).toEqual([]);
      const bundle = readFileSync(out, 'utf8');
      expect(bundle).not.toMatch(/\bfrom\s*["']node:/);
      writeFileSync(out, bundle);

      const workerCode = `
        const { parentPort, workerData } = require('node:worker_threads');
        const port = parentPort;
        const data = workerData;
        for (const k of ['process', 'Buffer', 'setImmediate', 'clearImmediate', 'global', 'require', 'module', 'exports', '__filename', '__dirname']) delete globalThis[k];
        import(data.url)
          .then((m) => m.runPortable(data.wasm, data.dll, data.pkg))
          .then((result) => port.postMessage({ result }), (e) => port.postMessage({ error: String(e && e.stack || e) }));
      `;
      const worker = new Worker(workerCode, { eval: true, workerData: { url: pathToFileURL(out).href, wasm, dll: v1, pkg: pkgJson } });
      const msg = await new Promise<{ result?: PortableResult; error?: string }>((resolveMsg, reject) => {
        worker.once('message', resolveMsg);
        worker.once('error', reject);
      });
      await worker.terminate();
      expect(msg.error).toBeUndefined();
      const inWorker = msg.result!;
      expect(inWorker.nodeGlobals).toEqual({ process: 'undefined', Buffer: 'undefined', require: 'undefined', module: 'undefined', global: 'undefined', setImmediate: 'undefined' });
      expect(inWorker.revertedIdentical).toBe(true);

      const underNode = await runPortable(wasm, v1, pkgJson);
      expect(underNode.nodeGlobals['process']).toBe('object');
      expect(inWorker.plan).toBe(underNode.plan);
      expect(inWorker.patchedHash).toBe(underNode.patchedHash);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
