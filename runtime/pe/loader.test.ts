/**
 * The runtime core must run outside Node (Deno, browsers, workers): the wasm loader and the
 * runtime/pe modules import no `node:` module, and the loader works from bytes handed to it
 * (how a browser or worker without file access uses it) in a fresh worker thread.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fullFile } from './testdata/crafted-cases.ts';

const PKG = new URL('../pe-parser/pkg/', import.meta.url);
const HERE = fileURLToPath(new URL('./', import.meta.url));

describe('pe-parser loader portability', () => {
  it('pe_parser.js (wasm-bindgen glue) and the runtime/pe library files import no node: module', () => {
    const loader = readFileSync(new URL('pe_parser.js', PKG), 'utf8');
    expect(loader).toMatch(/generated|wasm-bindgen|__wbg/);
    expect(loader.match(/['"]node:/g)).toBeNull();
    expect(loader).not.toMatch(/\brequire\(/);
    const lib = readdirSync(HERE).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    expect(lib).toContain('parse-pe.ts');
    for (const f of lib) expect(readFileSync(`${HERE}${f}`, 'utf8'), f).not.toMatch(/from\s+['"]node:/);
    // The one node: module the runtime reaches is imported dynamically, in wasm-bridge.ts, and
    // only when running under Node with a file: URL (fetch cannot read those there).
    const bridge = readFileSync(`${HERE}wasm-bridge.ts`, 'utf8');
    expect(bridge.match(/import\(\s*(\/\*[^*]*\*\/\s*)?['"]node:/g)).toHaveLength(1);
  });

  it('initSync(bytes) in a fresh worker parses a PE without touching the file system', async () => {
    const wasm = readFileSync(new URL('pe_parser_bg.wasm', PKG));
    const loaderUrl = new URL('pe_parser.js', PKG).href;
    const pe = fullFile(false).build();
    // Parses a crafted PE32+ and, as a non-PE, the wasm bytes themselves.
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      import(workerData.loaderUrl).then((m) => {
        m.initSync({ module: new Uint8Array(workerData.wasm) });
        const out = [workerData.pe, workerData.wasm].map((b) => {
          try {
            return { status: 0, text: new TextDecoder().decode(m.parse(new Uint8Array(b), 255)) };
          } catch (e) {
            return { status: 1, text: String(e) };
          }
        });
        parentPort.postMessage({ out });
      }, (e) => parentPort.postMessage({ error: String(e) }));`;
    const w = new Worker(code, { eval: true, workerData: { loaderUrl, wasm, pe } });
    const msg = await new Promise<{ out?: Array<{ status: number; text: string }>; error?: string }>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    await w.terminate();
    expect(msg.error).toBeUndefined();
    const [good, bad] = msg.out ?? [];
    expect(good?.status).toBe(0);
    const j = JSON.parse(good?.text ?? '{}') as { format: string; imports: Array<{ dll: string }> };
    expect([j.format, j.imports.map((d) => d.dll)]).toEqual(['PE32+', ['KERNEL32.dll', 'USER32.dll', 'DELAYED.dll']]);
    expect(bad?.status).toBe(1);
    expect(JSON.parse(bad?.text ?? '{}')).toEqual({ code: 'PE_BAD_DOS_MAGIC', message: 'no MZ signature: not a PE file', offset: 0 });
  });
});
