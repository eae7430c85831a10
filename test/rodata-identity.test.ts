/**
 * Read-only object identity (samples/rodata-identity): ops_x and ops_y are two const objects
 * with equal bytes; the unchanged pick stores &ops_y before the patch and the changed is_y
 * compares with it. New code's &ops_y must resolve to OLD's ops_y, the item matched code
 * names at the same place (compiler/diff/rodata-counterparts.ts), not the first OLD item of
 * those bytes nor a copy. In GCC's layout ops_x comes first and ops_x's end is ops_y's start:
 * resolution by content alone carried ops_x + ops_y glued, and the patched process printed
 * `is_y() = 0` (test/live-e2e.test.ts proves NEW's output live).
 */
import { describe, expect, test } from 'vitest';
import { buildFromDiff, COMPILER_VERSION, diffFiles } from '../compiler/index.ts';
import { parsePe } from '../runtime/pe/parse-pe.ts';
import { sampleBytes } from '../runtime/apply/testing/fixtures.ts';
import { symbolRva } from '../runtime/apply/testing/hand-package.ts';
import { oldRodataByKey } from '../compiler/diff/resolve-target.ts';
import { movesOf } from '../formats/moves.ts';
import { literalBlock } from './support/literal-block.ts';

describe('read-only object identity (rodata-identity, GCC)', () => {
  const symbols = parsePe(sampleBytes('rodata-identity', 'v1.dll'));
  if (!symbols.ok) throw new Error(symbols.error.message);
  const opsX = symbolRva(symbols.value, 'ops_x')!;
  const opsY = symbolRva(symbols.value, 'ops_y')!;
  for (const stripped of [false, true]) {
    const v = (n: string): Uint8Array => sampleBytes('rodata-identity', `${n}${stripped ? '.stripped' : ''}.dll`);
    test(`${stripped ? 'stripped' : 'symbols'}: is_y's &ops_y is OLD's ops_y, though OLD's first item of those bytes is ops_x`, () => {
      const d = diffFiles(v('v1'), v('v2'));
      if (!d.ok) throw new Error(d.error.message);
      const m = d.value.match;
      // The premise: equal bytes, ops_x first, so content alone names ops_x.
      const ox = m.old.itemAt(opsX)!;
      const oy = m.old.itemAt(opsY)!;
      expect(ox.start).toBe(opsX);
      expect(oy.start).toBe(opsY);
      expect(m.oldNorm.itemKey(ox, 'exact')).toBe(m.oldNorm.itemKey(oy, 'exact'));
      expect(oldRodataByKey(m).get(m.oldNorm.itemKey(oy, 'exact'))).toBe(ox);
      const b = buildFromDiff(d.value, { moduleName: 'rodata-identity.dll', skipRefused: false, series: null, compilerVersion: COMPILER_VERSION });
      if (!b.ok) throw new Error(b.error.message);
      const pkg = b.value.emitted.pkg;
      expect(pkg.functions.map((f) => f.status)).toEqual(['changed', 'changed']);
      expect(pkg.dataBlocks).toEqual([]);
      // Every fixup, the implicit ones (a placed field since format 2.4) derived as the runtime derives them.
      const all = pkg.codeBlocks.flatMap((c) => literalBlock(c, m.old.img.image, pkg.target.imageBase, pkg.target.sizeOfImage, movesOf(pkg)).fixups);
      const targets = all.map((f) => f.target).filter((t) => t.kind === 'image' && m.old.itemAt(t.rva) === oy);
      expect(targets).toEqual([{ kind: 'image', rva: opsY }]);
    });
  }
});
