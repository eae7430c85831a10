/**
 * fast-check arbitraries for VALID packages: random ingredients are drawn freely and then
 * repaired into a package that passes validatePackage (offsets folded into their blocks,
 * overlapping fixups dropped, redirect sites spaced apart, relied ranges computed), so a
 * property sees every field and oneof case with arbitrary values, not a fixed template.
 */
import fc from 'fast-check';
import { asRva } from '../../common/types.ts';
import type { BlockBytes, CodeBlock, DataBlock, DeltaOp, Fixup, FixupKind, FixupTarget, FunctionRecord, HotpatchPackage, Import, Redirect, RedirectKind, Unwind } from '../package.ts';
import { REDIRECT_SITE_LENGTH } from '../package.ts';
import { implicitSpans } from '../implicit-fixups.ts';
import { blockSize, FIXUP_WIDTH } from '../validate.ts';
import { mergeRanges } from './sample-packages.ts';

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const text = (max = 40): fc.Arbitrary<string> => fc.string({ unit: 'grapheme', minLength: 1, maxLength: max });
const bytes = (min: number, max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: min, maxLength: max });
const FIXUP_KINDS: readonly FixupKind[] = ['rel32', 'rel8', 'abs64', 'rip-disp32', 'addr32nb', 'imagerel32'];
const REDIRECT_KINDS: readonly RedirectKind[] = ['jmp-rel32', 'jmp-abs64', 'short-to-pad'];

interface RawFixup {
  kind: number;
  offset: number;
  target: number;
  pick: number;
  pickOffset: number;
  addend: bigint;
}
const rawFixup: fc.Arbitrary<RawFixup> = fc.record({
  kind: fc.nat(5),
  offset: u32,
  target: fc.nat(3),
  pick: u32,
  pickOffset: u32,
  addend: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
});

type RawBytes = { literal: Uint8Array } | { baseSeed: number; baseLength: number; ops: Array<{ copy: [number, number] } | { lit: Uint8Array }> };
const rawBytes: fc.Arbitrary<RawBytes> = fc.oneof(
  fc.record({ literal: bytes(1, 160) }),
  fc.record({
    baseSeed: u32,
    baseLength: fc.integer({ min: 1, max: 400 }),
    ops: fc.array(fc.oneof(fc.record({ copy: fc.tuple(u32, fc.integer({ min: 1, max: 64 })) }), fc.record({ lit: bytes(1, 16) })), { minLength: 1, maxLength: 8 }),
  }),
);

interface RawBlock {
  alignment: number;
  bytes: RawBytes;
  fixups: RawFixup[];
  unwind: { cuts: number[]; info: Uint8Array; fixups: RawFixup[]; infoSeeds: number[] } | null;
}
const rawBlock = (code: boolean): fc.Arbitrary<RawBlock> =>
  fc.record({
    alignment: fc.constantFrom(1, 2, 4, 8, 16, 64, 4096),
    bytes: rawBytes,
    fixups: fc.array(rawFixup, { maxLength: 6 }),
    unwind: code
      ? fc.option(fc.record({ cuts: fc.array(u32, { minLength: 1, maxLength: 4 }), info: bytes(4, 48), fixups: fc.array(rawFixup, { maxLength: 3 }), infoSeeds: fc.array(u32, { minLength: 4, maxLength: 4 }) }), { nil: null })
      : fc.constant(null),
  });

/** Arbitrary valid packages. */
export function arbitraryPackage(): fc.Arbitrary<HotpatchPackage> {
  return fc
    .record({
      sizeOfImage: fc.integer({ min: 0x1_0000, max: 0x100_0000 }),
      machineFields: fc.tuple(u32, u32),
      imageBase: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      codeView: fc.option(fc.record({ guid: bytes(16, 16), age: u32, pdbPath: fc.string({ unit: 'grapheme', maxLength: 60 }) }), { nil: null }),
      moduleName: text(),
      reliedSha256: bytes(32, 32),
      series: fc.record({ baselineId: text(), sequence: u32 }),
      code: fc.array(rawBlock(true), { minLength: 1, maxLength: 4 }),
      data: fc.array(rawBlock(false), { maxLength: 3 }),
      ids: fc.uniqueArray(u32, { minLength: 7, maxLength: 7 }),
      imports: fc.uniqueArray(
        fc.record({ dll: text(20), symbol: fc.oneof(fc.record({ kind: fc.constant('name' as const), name: text() }), fc.record({ kind: fc.constant('ordinal' as const), ordinal: fc.integer({ min: 1, max: 0xffff }) })) }),
        { maxLength: 4, selector: (i) => `${i.dll.toLowerCase()}\0${i.symbol.kind === 'name' ? i.symbol.name : `#${i.symbol.ordinal}`}` },
      ),
      redirects: fc.array(fc.record({ gap: fc.integer({ min: 32, max: 0x400 }), kind: fc.nat(2), pick: u32, offset: u32, expected: bytes(14, 14), pad: bytes(5, 5), name: fc.option(text(), { nil: null }), sizes: fc.tuple(fc.nat(0x100), u32), newRva: u32 }), { maxLength: 5 }),
      added: fc.array(fc.record({ pick: u32, offset: u32, name: fc.option(text(), { nil: null }), newSize: u32, newRva: u32 }), { maxLength: 3 }),
      producer: fc.record({ compilerVersion: text(), parameters: fc.array(fc.record({ key: fc.string({ maxLength: 10 }), value: fc.string({ maxLength: 20 }) }), { maxLength: 3 }) }),
      timeDateStamp: u32,
      checkSum: u32,
    })
    .map((r) => {
      const relied: Array<[number, number]> = [];
      const toBytes = (b: RawBytes): BlockBytes => {
        if ('literal' in b) return { kind: 'literal', bytes: b.literal };
        const rva = b.baseSeed % (r.sizeOfImage - b.baseLength);
        const ops: DeltaOp[] = b.ops.map((o) => {
          if ('lit' in o) return { kind: 'literal', bytes: o.lit };
          const length = Math.min(o.copy[1], b.baseLength);
          const offset = o.copy[0] % (b.baseLength - length + 1);
          // Some copies become add ops (1.2): the same range with byte differences.
          if (o.copy[0] % 3 === 0) return { kind: 'add', offset, bytes: Uint8Array.from({ length }, (_, k) => (k * o.copy[1]) & 0xff) };
          return { kind: 'copy', offset, length };
        });
        relied.push([rva, rva + b.baseLength]);
        const size = ops.reduce((n, op) => n + (op.kind === 'copy' ? op.length : op.bytes.length), 0);
        // Implicit fixups (1.2) in the first copy long enough: a rel32, then an abs64 when it fits.
        let at = 0;
        const rel32: number[] = [];
        const abs64: number[] = [];
        for (const op of ops) {
          const len = op.kind === 'copy' ? op.length : op.bytes.length;
          if (op.kind === 'copy' && len >= 4 && (rva & 1) === 0) {
            rel32.push(at);
            if (len >= 12) abs64.push(at + 4);
            break;
          }
          at += len;
        }
        const implicit = rel32.length > 0 ? { implicit: { rel32, abs64 } } : {};
        return { kind: 'delta', base: { rva: asRva(rva), length: b.baseLength }, baseSha256: new Uint8Array(32).fill(rva & 0xff), size, ops, ...implicit };
      };
      const codeIds = r.code.map((_, i) => r.ids[i]!);
      const dataIds = r.data.map((_, i) => r.ids[4 + i]!);
      const codeBytes = r.code.map((b) => toBytes(b.bytes));
      const dataBytes = r.data.map((b) => toBytes(b.bytes));
      const sizes = new Map<number, number>();
      codeIds.forEach((id, i) => sizes.set(id, blockSize(codeBytes[i]!)));
      dataIds.forEach((id, i) => sizes.set(id, blockSize(dataBytes[i]!)));
      const allIds = [...codeIds, ...dataIds];

      const fixupsIn = (raw: readonly RawFixup[], size: number, inUnwind = false, bytes: BlockBytes | null = null): Fixup[] => {
        const out: Fixup[] = [];
        const taken: Array<[number, number]> = bytes?.kind === 'delta' ? implicitSpans(bytes.implicit).map(([o, w]) => [o, o + w]) : [];
        for (const f of raw) {
          // addr32nb only in unwind data, imagerel32 only in blocks (validation rules): fold
          // each onto a kind its container allows.
          const drawn = FIXUP_KINDS[f.kind]!;
          const kind = !inUnwind && drawn === 'addr32nb' ? 'rel32' : inUnwind && drawn === 'imagerel32' ? 'addr32nb' : drawn;
          const w = FIXUP_WIDTH[kind];
          if (size < w) continue;
          const offset = f.offset % (size - w + 1);
          if (taken.some(([s, e]) => offset < e && s < offset + w)) continue;
          taken.push([offset, offset + w]);
          let target: FixupTarget;
          if (f.target === 1 && inUnwind && f.pick % 3 === 0) {
            // The unwind info's own structures (format 1.1): only inside unwind data.
            target = { kind: 'unwind', offset: f.pickOffset % (size + 1) };
          } else if (f.target === 1) {
            const id = allIds[f.pick % allIds.length]!;
            target = { kind: 'block', blockId: id, offset: f.pickOffset % (sizes.get(id)! + 1) };
          } else if (f.target >= 2 && r.imports.length > 0) {
            target = { kind: f.target === 2 ? 'import-slot' : 'import-address', index: f.pick % r.imports.length };
          } else target = { kind: 'image', rva: asRva(f.pick % r.sizeOfImage) };
          out.push({ kind, offset, target, addend: f.addend });
        }
        return out;
      };
      const unwindOf = (u: RawBlock['unwind'], size: number): Unwind | null => {
        if (u === null) return null;
        const info = u.info.slice(0, Math.max(4, u.info.length - (u.info.length % 4)));
        const cuts = [...new Set(u.cuts.map((c) => 1 + (c % size)))].sort((a, b) => a - b);
        let begin = 0;
        const runtimeFunctions = cuts.map((end, i) => {
          const rf = { beginOffset: begin, endOffset: end, unwindInfoOffset: 4 * (u.infoSeeds[i % 4]! % (info.length / 4)) };
          begin = end;
          return rf;
        });
        return { runtimeFunctions, unwindInfo: info, unwindFixups: fixupsIn(u.fixups, info.length, true) };
      };
      const codeBlocks: CodeBlock[] = r.code.map((b, i) => ({ id: codeIds[i]!, alignment: b.alignment, bytes: codeBytes[i]!, fixups: fixupsIn(b.fixups, sizes.get(codeIds[i]!)!, false, codeBytes[i]!), unwind: unwindOf(b.unwind, sizes.get(codeIds[i]!)!) }));
      const dataBlocks: DataBlock[] = r.data.map((b, i) => ({ id: dataIds[i]!, alignment: b.alignment, bytes: dataBytes[i]!, fixups: fixupsIn(b.fixups, sizes.get(dataIds[i]!)!, false, dataBytes[i]!) }));

      const redirects: Redirect[] = [];
      const functions: FunctionRecord[] = [];
      let site = 0x1000;
      for (const x of r.redirects) {
        site += x.gap;
        const kind = REDIRECT_KINDS[x.kind]!;
        const id = codeIds[x.pick % codeIds.length]!;
        const offset = x.offset % sizes.get(id)!;
        const len = REDIRECT_SITE_LENGTH[kind];
        const pad = kind === 'short-to-pad' ? { rva: asRva(site - 8), expected: x.pad } : null;
        redirects.push({ oldRva: asRva(site), target: { blockId: id, offset }, kind, expected: x.expected.slice(0, len), pad });
        relied.push([site, site + len]);
        if (pad !== null) relied.push([site - 8, site - 3]);
        functions.push({ name: x.name, oldRva: asRva(site), newRva: asRva(x.newRva || 1), status: 'changed', oldSize: x.sizes[0], newSize: x.sizes[1] || 1, blockId: id, blockOffset: offset });
        site += 14;
      }
      for (const a of r.added) {
        const id = codeIds[a.pick % codeIds.length]!;
        functions.push({ name: a.name, oldRva: null, newRva: asRva(a.newRva), status: 'added', oldSize: 0, newSize: a.newSize, blockId: id, blockOffset: a.offset % sizes.get(id)! });
      }
      const imports: Import[] = r.imports;
      const pkg: HotpatchPackage = {
        target: {
          machine: 0x8664,
          timeDateStamp: r.timeDateStamp,
          sizeOfImage: r.sizeOfImage,
          checkSum: r.checkSum,
          imageBase: r.imageBase,
          codeView: r.codeView,
          moduleName: r.moduleName,
          reliedRanges: mergeRanges(relied),
          // Since format 1.3 a package with no relied ranges carries no hash.
          reliedSha256: relied.length === 0 ? new Uint8Array(0) : r.reliedSha256,
        },
        series: r.series,
        codeBlocks,
        dataBlocks,
        imports,
        redirects,
        functions,
        producer: r.producer,
      };
      return pkg;
    });
}
