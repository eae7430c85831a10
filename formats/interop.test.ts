/**
 * The format is standard zstd + standard protobuf, not whatever our two libraries agree on:
 * payloads round-trip through the reference tools (Debian's `zstd` CLI and `protoc`).
 *  - the reference zstd decompresses our frames to our protobuf bytes, and our loader reads
 *    frames the reference zstd wrote;
 *  - protoc decodes our payloads with hotpatch.proto, re-encodes them its own (canonical)
 *    way, and our decoder gives back the same package.
 * Skipped with a reason when the tools are missing, failed instead under
 * HOTPATCH_REQUIRE_WINE=1 (CI installs them: zstd, protobuf-compiler).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasTool, REQUIRE_TOOLS } from '../test/support/tools.ts';
import { decodePayload, encodePayload } from './codec.ts';
import { loadPackage } from './container.ts';
import type { HotpatchPackage } from './package.ts';
import { arbitraryPackage } from './testing/arbitrary.ts';
import { fullPackage, minimalPackage } from './testing/sample-packages.ts';
import { wrapPayload } from './testing/wrap.ts';
import { compressZstd } from './zstd.ts';

const PROTO_DIR = fileURLToPath(new URL('.', import.meta.url));
const missing = ['zstd', 'protoc'].filter((t) => !hasTool(t, ['--version']));
if (missing.length > 0 && REQUIRE_TOOLS) throw new Error(`HOTPATCH_REQUIRE_WINE=1 but needs ${missing.join(', ')} (apt: zstd protobuf-compiler)`);
const tmp = mkdtempSync(join(tmpdir(), 'hotpatch-interop-'));

function run(cmd: string, args: readonly string[], input: Uint8Array | string): Buffer {
  const r = spawnSync(cmd, args, { input, maxBuffer: 64 * 1024 * 1024, timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr.toString().split('\n')[0]}`);
  return r.stdout;
}

async function packages(): Promise<Array<[string, HotpatchPackage]>> {
  const random = fc.sample(arbitraryPackage(), { numRuns: 12, seed: 7 });
  return [['minimal', await minimalPackage()], ['full', await fullPackage()], ...random.map((p, i): [string, HotpatchPackage] => [`random ${i}`, p])];
}

describe.skipIf(missing.length > 0)(`interop with the reference tools${missing.length > 0 ? ` (skipped: needs ${missing.join(', ')})` : ''}`, () => {
  it('zstd -d expands our frames to our protobuf bytes', async () => {
    for (const [name, p] of await packages()) {
      const raw = encodePayload(p);
      const c = await compressZstd(raw, 19);
      if (!c.ok) throw new Error(c.error.message);
      expect(Buffer.from(run('zstd', ['-d', '-q', '-c'], c.value)).equals(Buffer.from(raw)), name).toBe(true);
    }
  });

  it('our loader reads a payload compressed by the zstd CLI', async () => {
    const p = await fullPackage();
    const raw = encodePayload(p);
    const file = join(tmp, 'payload.pb');
    writeFileSync(file, raw);
    // From a file (not stdin) the CLI records the content size, which the loader requires.
    run('zstd', ['-19', '-q', '-f', file, '-o', `${file}.zst`], '');
    const frame = new Uint8Array(readFileSync(`${file}.zst`));
    const r = await loadPackage(await wrapPayload(frame, raw.length), { trusted: [], allowUnsigned: true });
    expect(r.ok && r.value.package).toEqual(p);
  });

  it('protoc decodes our payloads, and we decode what protoc re-encodes to the same package', async () => {
    for (const [name, p] of await packages()) {
      const text = run('protoc', [`--proto_path=${PROTO_DIR}`, '--decode=hotpatch.Package', 'hotpatch.proto'], encodePayload(p)).toString('utf8');
      // Since 2.8 a name ending in .dll travels as its stem (module_dll_stem).
      expect(text, name).toMatch(/module_name: |module_dll_stem: /);
      const reencoded = new Uint8Array(run('protoc', [`--proto_path=${PROTO_DIR}`, '--encode=hotpatch.Package', 'hotpatch.proto'], text));
      const back = decodePayload(reencoded);
      if (!back.ok) throw new Error(`${name}: ${back.error.code}: ${back.error.message}`);
      expect(back.value, name).toEqual(p);
    }
  });
});
