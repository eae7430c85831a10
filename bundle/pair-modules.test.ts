/**
 * Pairing release trees: the real sharp 0.34.4 -> 0.34.5 package (libvips-cpp-8.17.2.dll is
 * renamed libvips-cpp-8.17.3.dll: paired by its export name and by sharp-win32-x64.node
 * importing it), and sample trees where the evidence is ambiguous or missing, which must
 * leave modules unpaired rather than guess.
 */
import { describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readTree } from '../cli/bundle/read-tree.ts';
import { fetchRealTree, realTrees } from '../samples/real/real-files.ts';
import { nameStem, pairModules, type TreeFile } from './pair-modules.ts';

const BIN = fileURLToPath(new URL('../samples/bin', import.meta.url));
const dll = (scenario: string, v: string): Uint8Array => new Uint8Array(readFileSync(join(BIN, scenario, `${v}.dll`)));

describe('pairing by identity', () => {
  const tree = realTrees().find((t) => t.label === 'sharp-win32-x64-0.34.4-0.34.5')!;
  const o = fetchRealTree(tree.old);
  const n = fetchRealTree(tree.new);
  const unavailable = !o.ok ? o.error.message : !n.ok ? n.error.message : undefined;

  test.skipIf(unavailable !== undefined)(`the real sharp 0.34.4 -> 0.34.5 tree pairs the renamed libvips-cpp DLL${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, async () => {
    if (!o.ok || !n.ok) return;
    const ot = readTree(o.value);
    const nt = readTree(n.value);
    if (!ot.ok || !nt.ok) throw new Error('cannot read the trees');
    // Only the PE files are modules: LICENSE, README.md, package.json, versions.json are not.
    expect(ot.value.map((f) => f.path)).toEqual(['lib/libvips-42.dll', 'lib/libvips-cpp-8.17.2.dll', 'lib/sharp-win32-x64.node']);
    const p = await pairModules(ot.value, nt.value);
    expect(p.pairs.map((x) => [x.old.path, x.new.path, x.pairedBy])).toEqual([
      ['lib/libvips-42.dll', 'lib/libvips-42.dll', 'path'],
      ['lib/libvips-cpp-8.17.2.dll', 'lib/libvips-cpp-8.17.3.dll', 'export name libvips-cpp-8.17.2.dll -> libvips-cpp-8.17.3.dll; imported by lib/sharp-win32-x64.node'],
      ['lib/sharp-win32-x64.node', 'lib/sharp-win32-x64.node', 'path'],
    ]);
    expect(p.unpaired).toEqual([]);
    expect(p.added).toEqual([]);
  });

  test('two equally good candidates: nothing is paired, both sides are reported', async () => {
    const old: TreeFile[] = [{ path: 'helper-1.0.dll', bytes: dll('new-helper', 'v1') }];
    const neu: TreeFile[] = [
      { path: 'helper-1.1.dll', bytes: dll('new-helper', 'v2') },
      { path: 'helper-1.2.dll', bytes: dll('new-helper', 'v2') },
    ];
    const p = await pairModules(old, neu);
    expect(p.pairs).toEqual([]);
    expect(p.unpaired.map((m) => m.path)).toEqual(['helper-1.0.dll']);
    expect(p.added.map((m) => m.path).sort()).toEqual(['helper-1.1.dll', 'helper-1.2.dll']);
  });

  test('no evidence (another module under a new name): not paired; a file name alone is not enough', async () => {
    const p = await pairModules([{ path: 'a-1.dll', bytes: dll('logic-fix', 'v1') }], [{ path: 'a-2.dll', bytes: dll('bounds-check', 'v1') }]);
    expect(p.pairs).toEqual([]);
    expect(p.unpaired).toHaveLength(1);
    expect(p.added).toHaveLength(1);
  });

  test('paths pair first (ignoring case, as Windows does); a file starting with MZ that is no PE is reported', async () => {
    const p = await pairModules(
      [{ path: 'Lib/Logic.DLL', bytes: dll('logic-fix', 'v1') }, { path: 'fake.exe', bytes: Uint8Array.of(0x4d, 0x5a, 0, 0) }],
      [{ path: 'lib/logic.dll', bytes: dll('logic-fix', 'v2') }],
    );
    expect(p.pairs.map((x) => [x.old.path, x.new.path, x.pairedBy])).toEqual([['Lib/Logic.DLL', 'lib/logic.dll', 'path']]);
    expect(p.ignored.map((x) => [x.tree, x.path])).toEqual([['old', 'fake.exe']]);
    expect(p.ignored[0]!.reason).toMatch(/^PE_/);
  });

  test('name stems set version numbers aside', () => {
    expect(nameStem('libvips-cpp-8.17.2.dll')).toBe(nameStem('libvips-cpp-8.17.3.dll'));
    expect(nameStem('libvips-42.dll')).not.toBe(nameStem('libvips-cpp-42.dll'));
  });
});
