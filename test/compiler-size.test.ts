/**
 * Package size on the real pairs whose code did not change (a version string moved): changed
 * functions that only read changed read-only data travel as one copy of their old body, and
 * carried read-only data travels as a delta against its old counterpart. Both are applied
 * through the runtime's in-memory path and the bytes read back where the package put them.
 * Also the rule that code no function owns is never copied as data when it holds relative
 * branches or RIP-relative operands. Real pairs are skipped, with the reason, when absent.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildFromDiff, COMPILER_VERSION, diffFiles, mapImage, readPe } from '../compiler/index.ts';
import { positionDependent } from '../compiler/diff/resolve-target.ts';
import { relocsIn } from '../compiler/image/map-image.ts';
import { applyPackage } from '../runtime/apply/apply-package.ts';
import { MemoryBackend } from '../runtime/backends/memory-backend.ts';
import { loadProcessImage } from '../runtime/image/load-image.ts';
import { asVa } from '../common/types.ts';
import { blockSize, FIXUP_WIDTH } from '../formats/validate.ts';
import { fetchRealFile, realPairs } from '../samples/real/real-files.ts';


for (const pair of realPairs().filter((p) => p.codeUnchanged === true)) {
  const o = fetchRealFile(pair.old);
  const n = fetchRealFile(pair.new);
  const unavailable = !o.ok ? o.error.message : !n.ok ? n.error.message : undefined;
  describe.skipIf(unavailable !== undefined)(`${pair.label}${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
    it('data-only functions are one copy of their old body; carried data is a delta that applies to the new bytes', async () => {
      const ob = new Uint8Array(readFileSync((o as { value: string }).value));
      const nb = new Uint8Array(readFileSync((n as { value: string }).value));
      const d = diffFiles(ob, nb);
      if (!d.ok) throw new Error(d.error.message);
      const diff = d.value;
      const m = diff.match;
      const built = buildFromDiff(diff, { moduleName: pair.label, skipRefused: true, series: null, compilerVersion: COMPILER_VERSION });
      if (!built.ok) throw new Error(`${built.error.code}: ${built.error.message}`);
      const pkg = built.value.emitted.pkg;
      // (A pair may have nothing that reads changed data: then nothing travels.)
      const changed = diff.functions.filter((f) => f.status === 'changed' && f.verdict === 'hotpatchable');
      expect(pkg.functions.length).toBe(changed.length);
      if (changed.length === 0) return;

      // Each carried function changed only in the data it reads: its block is its old body,
      // copied whole (the fixup fields are overwritten when applied).
      for (const rec of pkg.functions) {
        const change = diff.functions.find((f) => f.newRva === (rec.newRva as number));
        expect(change?.dataOnly).toBe(true);
        const block = pkg.codeBlocks.find((b) => b.id === rec.blockId)!;
        expect(block.bytes.kind).toBe('delta');
        if (block.bytes.kind !== 'delta') continue;
        expect(block.bytes.ops).toEqual([{ kind: 'copy', offset: 0, length: rec.oldSize }]);
        expect(block.bytes.base.rva as number).toBe(rec.oldRva as number);
      }
      expect(pkg.dataBlocks.some((b) => b.bytes.kind === 'delta')).toBe(true);

      // Apply to an in-memory process image of OLD; every data block a code fixup points at
      // must hold NEW's bytes there (outside its own fixup fields).
      const img = loadProcessImage(ob, { name: pair.label });
      if (!img.ok) throw new Error(img.error.message);
      const backend = new MemoryBackend(img.value);
      const r = await applyPackage(pkg, backend);
      if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
      let checked = 0;
      for (const rec of pkg.functions) {
        const f = m.new.fns.byEntry.get(rec.newRva as number)!;
        if (f.ranges.length !== 1) continue;
        const body = r.value.plan.functions.find((p) => p.oldVa !== null && (p.oldVa as bigint) === (img.value.base as bigint) + BigInt(rec.oldRva as number))!;
        const block = pkg.codeBlocks.find((b) => b.id === rec.blockId)!;
        for (const fx of block.fixups) {
          if (fx.target.kind !== 'block' || fx.kind !== 'rip-disp32') continue;
          const tb = fx.target;
          const data = pkg.dataBlocks.find((b) => b.id === tb.blockId);
          if (data === undefined) continue;
          const ref = f.decoded.refs.find((x) => x.fieldRva - f.entry === fx.offset)!;
          const P = (body.bodyVa as bigint) + BigInt(fx.offset);
          const field = await backend.read(asVa(P), 4);
          if (!field.ok) throw new Error(field.error.message);
          const disp = BigInt(new DataView(field.value.buffer, field.value.byteOffset).getInt32(0, true));
          const blockAt = disp + P - fx.addend - BigInt(tb.offset);
          const size = blockSize(data.bytes);
          const got = await backend.read(asVa(blockAt), size);
          if (!got.ok) throw new Error(got.error.message);
          const runStart = ref.target - tb.offset;
          const want = nb.length > 0 ? m.new.img.image.slice(runStart, runStart + size) : new Uint8Array();
          const mine = got.value.slice();
          for (const dfx of data.fixups) {
            mine.fill(0, dfx.offset, dfx.offset + FIXUP_WIDTH[dfx.kind]);
            want.fill(0, dfx.offset, dfx.offset + FIXUP_WIDTH[dfx.kind]);
          }
          expect(Buffer.from(mine).equals(Buffer.from(want))).toBe(true);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(0);
    }, 300_000);
  });
}

describe('code no function owns', () => {
  it('is position-dependent when it holds calls or RIP-relative operands; a pointer list is not', () => {
    const bytes = new Uint8Array(readFileSync(new URL('../samples/bin/fnptr/v1.dll', import.meta.url)));
    const pe = readPe(bytes);
    if (!pe.ok) throw new Error(pe.error.message);
    const img = mapImage(bytes, pe.value.pe);
    if (!img.ok) throw new Error(img.error.message);
    // A function body with a call or a RIP-relative operand.
    const text = img.value.sections.find((s) => s.executable)!;
    const fn = pe.value.pe.exceptions.find((rf) => {
      const b = img.value.image.subarray(rf.beginAddress as number, rf.endAddress as number);
      return b.includes(0xe8);
    })!;
    expect(positionDependent(img.value, fn.beginAddress as number, fn.endAddress as number)).toBe(true);
    // A run of 8-byte pointers under base relocations (in a code section or not) holds no code.
    const run = [...img.value.relocs.keys()].sort((a, b) => a - b).find((rel) => img.value.relocs.get(rel) === 10 && img.value.relocs.get(rel + 8) === 10);
    expect(run).toBeDefined();
    expect(positionDependent(img.value, run!, run! + 16)).toBe(false);
    expect(relocsIn(img.value, run!, run! + 16).length).toBe(2);
    expect(text.rva).toBeLessThan(img.value.image.length);
  });
});

// rollup 4.64.7 -> 4.64.8 (Rust, MSVC): Rust drop functions without .pdata are reached only
// through vtables; when their relative branches moved, referencing them must be refused.
const rust = realPairs().find((p) => p.label === 'rollup-4.64.7-4.64.8');
const ro = rust === undefined ? undefined : fetchRealFile(rust.old);
const rn = rust === undefined ? undefined : fetchRealFile(rust.new);
const rustMissing = !ro?.ok || !rn?.ok ? `real pair not available: ${ro?.ok === false ? ro.error.message : rn?.ok === false ? rn.error.message : 'not in manifest'}` : undefined;
describe.skipIf(rustMissing !== undefined)(`code reached through data${rustMissing === undefined ? '' : ` (skipped: ${rustMissing})`}`, () => {
  it('a function needing a moved copy of unowned position-dependent code is refused, naming it', () => {
    const ob = new Uint8Array(readFileSync((ro as { value: string }).value));
    const nb = new Uint8Array(readFileSync((rn as { value: string }).value));
    const d = diffFiles(ob, nb);
    if (!d.ok) throw new Error(d.error.message);
    const m = d.value.match;
    const refused = d.value.functions.filter((f) => /reference to code at 0x[0-9a-f]+ that no discovered function owns/.test(f.reason?.message ?? ''));
    expect(refused.length).toBeGreaterThan(0);
    for (const f of refused.slice(0, 20)) {
      const at = Number(/reference to code at (0x[0-9a-f]+)/.exec(f.reason!.message)![1]);
      const item = m.new.itemAt(at)!;
      // It lies in a code section, no function owns it, it holds a branch or RIP-relative
      // operand, and OLD has no item with its content.
      expect(m.new.img.sections.find((s) => at >= s.rva && at < s.rva + s.size)?.executable).toBe(true);
      expect(m.new.fns.containing(at)).toBeUndefined();
      expect(positionDependent(m.new.img, item.start, item.end)).toBe(true);
      const key = m.newNorm.itemKey(item, 'exact');
      expect(m.old.items.some((o) => !o.writable && m.oldNorm.itemKey(o, 'exact') === key)).toBe(false);
    }
  }, 300_000);
});
