/**
 * `hotpatch bundle` on a release tree made of samples (test/support/bundle-trees.ts): three
 * changed modules (one renamed: paired by identity), one unchanged, one refused. The summary,
 * the exit code of a partial bundle, the signature, apply to an image directory (each module
 * byte for byte what its own package gives), determinism across --jobs, --from-packages, and
 * tampering refused before any write.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadBundle } from '../formats/bundle.ts';
import { importPublicKey } from '../formats/keys.ts';
import { runHotpatch } from './support/cli.ts';
import { SAMPLES_TREE, writeTree } from './support/bundle-trees.ts';

const dir = mkdtempSync(join(tmpdir(), 'hp-bundle-'));
const tree = writeTree(dir);
const key = join(dir, 'keys/hotpatch.key');
const pub = join(dir, 'keys/hotpatch.pub');
const bundle = join(dir, 'release.hpb');
const kept = join(dir, 'kept');
let summary: { complete: boolean; counts: Record<string, number>; entries: Array<{ oldPath: string | null; newPath: string | null; status: string; pairedBy: string; reasonCode: string | null; reasons: string[] }> };

beforeAll(() => {
  expect(runHotpatch(['keygen', '--out', join(dir, 'keys')]).status).toBe(0);
  const r = runHotpatch(['bundle', tree.old, tree.new, '-o', bundle, '--key', key, '--jobs', '2', '--keep-packages', kept, '--json'], { timeoutMs: 300_000 });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(33); // written, but partial: struct.dll is refused
  summary = JSON.parse(r.stdout) as typeof summary;
}, 300_000);

describe('hotpatch bundle over a samples tree', () => {
  test('the summary: 3 changed (one paired by identity), 1 unchanged, 1 refused with its reason', () => {
    expect(summary.complete).toBe(false);
    expect(summary.counts).toEqual({ changed: 3, partial: 0, refused: 1, unchanged: 1, added: 0, unpaired: 0 });
    const by = new Map(summary.entries.map((e) => [e.oldPath, e]));
    expect(by.get('logic.dll')?.status).toBe('changed');
    expect(by.get('lib/bounds.dll')?.status).toBe('changed');
    expect(by.get('lib/helper-1.0.dll')).toMatchObject({ newPath: 'lib/helper-1.1.dll', status: 'changed', pairedBy: 'export name new-helper.dll -> new-helper.dll' });
    expect(by.get('same.dll')?.status).toBe('unchanged');
    const refused = by.get('struct.dll')!;
    expect(refused.status).toBe('refused');
    expect(refused.reasonCode).toBe('BUILD_REFUSED');
    expect(refused.reasons.join('\n')).toMatch(/g_settings/);
    expect(summary.entries.some((e) => e.oldPath === 'README.txt')).toBe(false);
  });

  test('the bundle verifies: inspect --trust shows every module and package', () => {
    const r = runHotpatch(['inspect', bundle, '--trust', pub, '--json']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { kind: string; signature: { status: string }; entries: Array<{ status: string; package: { functions: unknown[] } | null }> };
    expect(j.kind).toBe('bundle');
    expect(j.signature.status).toBe('verified');
    expect(j.entries.map((e) => e.status)).toEqual(['changed', 'changed', 'changed', 'unchanged', 'refused']);
    expect(j.entries.filter((e) => e.package !== null).map((e) => e.package!.functions.length)).toEqual([2, 2, 1]);
  });

  test('each packaged module is what `hotpatch build` gives alone, and applying the bundle to the image dir gives each module its single-package result byte for byte', () => {
    const out = join(dir, 'applied');
    const a = runHotpatch(['apply', bundle, '--image-dir', tree.old, '--out-dir', out, '--trust', pub, '--json']);
    expect(a.stderr).toBe('');
    expect(a.status).toBe(0);
    expect((JSON.parse(a.stdout) as { applied: unknown[] }).applied).toHaveLength(3);
    for (const s of SAMPLES_TREE.filter((x) => ['logic-fix', 'bounds-check', 'new-helper'].includes(x.scenario))) {
      const single = join(dir, `${s.scenario}.hpk`);
      expect(runHotpatch(['build', join(tree.old, s.oldPath), join(tree.new, s.newPath), '-o', single, '--key', key]).status).toBe(0);
      expect(readFileSync(single).equals(readFileSync(join(kept, `${s.oldPath}.hpk`)))).toBe(true);
      const image = join(dir, `${s.scenario}.image`);
      expect(runHotpatch(['apply', single, '--image', join(tree.old, s.oldPath), '--out', image, '--trust', pub]).status).toBe(0);
      expect(readFileSync(join(out, s.oldPath)).equals(readFileSync(image))).toBe(true);
    }
    expect(existsSync(join(out, 'struct.dll'))).toBe(false);
    expect(existsSync(join(out, 'same.dll'))).toBe(false);
  }, 300_000);

  test('deterministic: --jobs 1 and --from-packages give the same bytes', () => {
    const one = join(dir, 'one.hpb');
    expect(runHotpatch(['bundle', tree.old, tree.new, '-o', one, '--key', key, '--jobs', '1'], { timeoutMs: 300_000 }).status).toBe(33);
    expect(readFileSync(one).equals(readFileSync(bundle))).toBe(true);
    const assembled = join(dir, 'assembled.hpb');
    const r = runHotpatch(['bundle', tree.old, tree.new, '-o', assembled, '--key', key, '--from-packages', kept]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(33);
    expect(readFileSync(assembled).equals(readFileSync(bundle))).toBe(true);
  }, 300_000);

  test('--from-packages refuses a package that is not the module\'s (identity) or was altered (signature)', () => {
    const swapped = join(dir, 'swapped');
    for (const [name, make] of [
      ['identity', (): Buffer => readFileSync(join(kept, 'logic.dll.hpk'))] as const,
      ['signature', (b: Buffer): Buffer => Buffer.from(b.map((x, i) => (i === 40 ? x ^ 1 : x)))] as const,
    ]) {
      const copy = join(swapped, name);
      for (const s of SAMPLES_TREE) {
        for (const ext of ['.hpk', '.outcome.json']) {
          const f = join(kept, `${s.oldPath}${ext}`);
          if (!existsSync(f)) continue;
          const to = join(copy, `${s.oldPath}${ext}`);
          mkdirSync(dirname(to), { recursive: true });
          writeFileSync(to, s.oldPath === 'lib/bounds.dll' && ext === '.hpk' ? make(readFileSync(f)) : readFileSync(f));
        }
      }
      const out = join(dir, `from-${name}.hpb`);
      const r = runHotpatch(['bundle', tree.old, tree.new, '-o', out, '--key', key, '--from-packages', copy]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(name === 'identity' ? /^hotpatch: BUNDLE_IDENTITY: lib\/bounds\.dll: the package does not target this pair: module logic-fix\.dll, not bounds-check\.dll/ : /^hotpatch: SIG_BAD: lib\/bounds\.dll: /);
      expect(existsSync(out)).toBe(false);
    }
  }, 300_000);
});

describe('modules only one tree has', () => {
  test('an OLD-only module is unpaired, a NEW-only one added; neither carries a package', async () => {
    const root = join(dir, 'one-sided');
    const bin = join(dirname(new URL(import.meta.url).pathname), '../samples/bin');
    for (const [tree, name, scenario, v] of [
      ['old', 'l.dll', 'logic-fix', 'v1'],
      ['new', 'l.dll', 'logic-fix', 'v2'],
      ['old', 'gone.dll', 'logic-fix', 'v1'],
      ['new', 'fresh.dll', 'bounds-check', 'v2'],
    ] as const) {
      mkdirSync(join(root, tree), { recursive: true });
      writeFileSync(join(root, tree, name), readFileSync(join(bin, scenario, `${v}.dll`)));
    }
    const out = join(root, 'r.hpb');
    const r = runHotpatch(['bundle', join(root, 'old'), join(root, 'new'), '-o', out, '--unsigned', '--jobs', '1']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0); // nothing refused: complete, even with modules that cannot be paired
    expect(r.stdout).toMatch(/^wrote .*r\.hpb: \d+ bytes, UNSIGNED, complete: 1 changed, 0 partial, 0 refused, 0 unchanged, 1 added, 1 unpaired\n/);
    const l = await loadBundle(new Uint8Array(readFileSync(out)), { trusted: [], allowUnsigned: true });
    if (!l.ok) throw new Error(l.error.message);
    expect(l.value.entries.map((e) => [e.entry.oldPath, e.entry.newPath, e.entry.status, e.package === null])).toEqual([
      ['gone.dll', null, 'unpaired', true],
      ['l.dll', 'l.dll', 'changed', false],
      [null, 'fresh.dll', 'added', true],
    ]);
  }, 300_000);
});

describe('tampering with a bundle is refused before any write', () => {
  test('every byte of the manifest and of every entry, flipped: the loader refuses', async () => {
    const bytes = new Uint8Array(readFileSync(bundle));
    const trusted = [(await importPublicKey(readFileSync(pub, 'utf8'))) as { ok: true; value: never }].map((k) => k.value);
    const good = await loadBundle(bytes, { trusted, allowUnsigned: false });
    expect(good.ok).toBe(true);
    if (!good.ok) return;
    const manifestEnd = 32 + good.value.sizes.manifest;
    const positions = [...Array.from({ length: manifestEnd }, (_, i) => i), ...Array.from({ length: bytes.length - manifestEnd }, (_, i) => manifestEnd + i).filter((i) => i % 5 === 0)];
    for (const at of positions) {
      const t = bytes.slice();
      t[at]! ^= 0x01;
      const r = await loadBundle(t, { trusted, allowUnsigned: false });
      expect(r.ok, `flip at ${at}`).toBe(false);
    }
  }, 120_000);

  test('without a signature, a flipped package byte is caught by its digest', async () => {
    const unsigned = join(dir, 'unsigned.hpb');
    expect(runHotpatch(['bundle', tree.old, tree.new, '-o', unsigned, '--unsigned', '--from-packages', kept]).status).toBe(33);
    const bytes = new Uint8Array(readFileSync(unsigned));
    const l = await loadBundle(bytes, { trusted: [], allowUnsigned: true });
    expect(l.ok).toBe(true);
    if (!l.ok) return;
    const t = bytes.slice();
    t[bytes.length - 10]! ^= 0x80;
    const r = await loadBundle(t, { trusted: [], allowUnsigned: true });
    expect(r.ok ? null : r.error.code).toBe('PKG_DIGEST');
  });

  test('the CLI: a flip in the manifest or in any entry fails apply with one line and writes nothing', async () => {
    const bytes = readFileSync(bundle);
    const l = await loadBundle(new Uint8Array(bytes), { trusted: [], allowUnsigned: true, readOnly: true });
    if (!l.ok) throw new Error(l.error.message);
    const manifestEnd = 32 + l.value.sizes.manifest;
    const flips = [40, manifestEnd - 3];
    let at = manifestEnd;
    for (const e of l.value.entries) {
      if (e.package === null) continue;
      flips.push(at + Math.floor(e.package.length / 2));
      at += e.package.length;
    }
    expect(flips).toHaveLength(5);
    for (const f of flips) {
      const t = Buffer.from(bytes);
      t[f]! ^= 0x10;
      const file = join(dir, `tampered-${f}.hpb`);
      writeFileSync(file, t);
      const out = join(dir, `tampered-out-${f}`);
      const r = runHotpatch(['apply', file, '--image-dir', tree.old, '--out-dir', out, '--trust', pub]);
      expect(r.status).toBe(21);
      expect(r.stderr).toMatch(/^hotpatch: SIG_BAD: tampered-\d+\.hpb: signature does not verify|^hotpatch: SIG_BAD: .*tampered-\d+\.hpb: signature does not verify/);
      expect(r.stderr.split('\n')).toHaveLength(2);
      expect(existsSync(out)).toBe(false);
    }
  }, 120_000);
});
