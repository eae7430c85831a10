/**
 * Small, hand-built packages for the golden files and the fuzzer's seeds. They are real
 * packages of the format (every field filled in coherently: the relied ranges and hashes
 * are computed over a synthetic "old image" and validate), just not produced by the
 * compiler, so the golden files only change when the format does.
 */
import { asRva } from '../../common/types.ts';
import { encodeDelta } from '../delta.ts';
import { sha256 } from '../keys.ts';
import { RELIED_HASH_LENGTH, type HotpatchPackage, type RvaRange, type StoredOp } from '../package.ts';
import { sealPackageWith } from '../seal.ts';

/** Deterministic bytes that look enough like x64 code for delta tests (xorshift). */
export function pseudoCode(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** SizeOfImage of the synthetic old image. */
export const OLD_IMAGE_SIZE = 0x4000;

/** A synthetic old image: SizeOfImage bytes with code-like content, prologues and padding. */
export function oldImage(): Uint8Array {
  const img = pseudoCode(OLD_IMAGE_SIZE, 0x5eed);
  // Function entries the redirects expect (a typical prologue), and int3 padding.
  img.set([0x48, 0x83, 0xec, 0x28, 0x8b], 0x1000);
  img.set([0x40, 0x53, 0x48, 0x83, 0xec, 0x20, 0x48, 0x8b, 0xd9, 0x90, 0x90, 0x90, 0x90, 0x90], 0x1100);
  img.set([0x55, 0x48], 0x1200);
  img.fill(0xcc, 0x11f0, 0x1200); // padding before 0x1200 for a short-to-pad redirect
  // The old function's unwind data (format 2.3 unwind by reference): its UNWIND_INFO (a
  // 0x30-byte frame where the new one has 0x28) and handler RVA, and a chained-style tail.
  img.set([0x09, 0x04, 0x01, 0x00, 0x04, 0x52, 0x00, 0x00, 0x34, 0x12, 0x00, 0x00], 0x1d00);
  img.set([0x01, 0x02, 0x00, 0x00], 0x1d40);
  return img;
}

/** Sorts and merges `[start, end)` ranges into relied ranges (disjoint, non-adjacent). */
export function mergeRanges(ranges: ReadonlyArray<readonly [number, number]>): RvaRange[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [s, e] of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out.map(([s, e]) => ({ rva: asRva(s), length: e - s }));
}

/** SHA-256 of `image`'s bytes in `ranges`, concatenated in order, cut to its first 16 bytes as 2.8 writes it (FORMAT.md, "relied_sha256"). */
export async function reliedSha256(image: Uint8Array, ranges: readonly RvaRange[]): Promise<Uint8Array> {
  const total = ranges.reduce((n, r) => n + r.length, 0);
  const buf = new Uint8Array(total);
  let at = 0;
  for (const r of ranges) {
    buf.set(image.subarray(r.rva, r.rva + r.length), at);
    at += r.length;
  }
  return (await sha256(buf)).slice(0, RELIED_HASH_LENGTH);
}

const slice = (img: Uint8Array, rva: number, n: number): Uint8Array => img.slice(rva, rva + n);

/** One changed function, literal code, a jmp-rel32 redirect; no CodeView. */
export async function minimalPackage(): Promise<HotpatchPackage> {
  const img = oldImage();
  const code = Uint8Array.of(0x48, 0x83, 0xec, 0x28, 0x8d, 0x41, 0x01, 0xe8, 0, 0, 0, 0, 0x8b, 0x05, 0, 0, 0, 0, 0x48, 0x83, 0xc4, 0x28, 0xc3);
  const ranges = mergeRanges([[0x1000, 0x1005]]);
  return {
    target: {
      machine: 0x8664,
      timeDateStamp: 0x6561_0000,
      sizeOfImage: OLD_IMAGE_SIZE,
      checkSum: 0x1_2345,
      imageBase: 0x1_8000_0000n,
      codeView: null,
      moduleName: 'logic.dll',
      reliedRanges: ranges,
      reliedSha256: await reliedSha256(img, ranges),
    },
    series: { baselineId: 'logic.dll@65610000-4000', sequence: 1 },
    codeBlocks: [
      {
        id: 0,
        alignment: 16,
        bytes: { kind: 'literal', bytes: code },
        fixups: [
          { kind: 'rel32', offset: 8, target: { kind: 'image', rva: asRva(0x1800) }, addend: -4n },
          { kind: 'rip-disp32', offset: 14, target: { kind: 'image', rva: asRva(0x3000) }, addend: -4n },
        ],
        unwind: null,
      },
    ],
    dataBlocks: [],
    imports: [],
    redirects: [{ oldRva: asRva(0x1000), target: { blockId: 0, offset: 0 }, kind: 'jmp-rel32', expected: slice(img, 0x1000, 5), pad: null }],
    functions: [{ name: 'sum_first', oldRva: asRva(0x1000), newRva: asRva(0x1000), status: 'changed', oldSize: 0x20, newSize: code.length, blockId: 0, blockOffset: 0 }],
    producer: { compilerVersion: 'hotpatch-formats-golden 1', parameters: [] },
  };
}

/**
 * Every message and every oneof case at least once: a delta-stored body with implicit fixups
 * and no base hash, redirects with and without expected bytes, all fixup kinds
 * and target kinds, unwind data with a handler fixup, a data block, imports by name and by
 * ordinal, all three redirect kinds, changed and added functions, CodeView and parameters.
 */
export async function fullPackage(): Promise<HotpatchPackage> {
  const img = oldImage();
  // Block 0: the old body at 0x1100 (0x80 bytes) with two small edits and 3 bytes appended.
  const oldBody = img.slice(0x1100, 0x1180);
  const newBody = new Uint8Array(0x83);
  newBody.set(oldBody, 0);
  newBody[0x20] = 0x7d; // jl -> jge
  newBody.set([0x90, 0x90], 0x50);
  newBody.set([0xcc, 0xcc, 0xc3], 0x80);
  const ops = encodeDelta(oldBody, newBody);
  const added = Uint8Array.of(0x31, 0xc0, 0x83, 0xf9, 0x64, 0x7e, 0x05, 0xb8, 0x64, 0, 0, 0, 0xff, 0x25, 0, 0, 0, 0, 0xc3);
  const data = new Uint8Array(24);
  data.set(new TextEncoder().encode('Hello, world!\0'), 0);
  const unwindInfo = Uint8Array.of(0x09, 0x04, 0x01, 0x00, 0x04, 0x42, 0, 0, 0, 0, 0, 0, 0x01, 0x02, 0x00, 0x00);
  const ranges = mergeRanges([
    [0x1000, 0x100e],
    [0x1100, 0x1180],
    [0x1200, 0x1202],
    [0x11f8, 0x11fd],
  ]);
  return {
    target: {
      machine: 0x8664,
      timeDateStamp: 0x6561_0001,
      sizeOfImage: OLD_IMAGE_SIZE,
      checkSum: 0,
      imageBase: 0x7ffb_1230_0000n,
      codeView: { guid: Uint8Array.from({ length: 16 }, (_, i) => 0x10 + i), age: 3, pdbPath: 'C:\\build\\full.pdb' },
      moduleName: 'Full.dll',
      reliedRanges: ranges,
      reliedSha256: await reliedSha256(img, ranges),
    },
    series: { baselineId: '2026-Q4', sequence: 7 },
    codeBlocks: [
      {
        id: 0,
        alignment: 16,
        // Two implicit fixups (1.2) inside the copy after the first edit.
        // No base hash (2.1): the relied ranges cover the base.
        bytes: { kind: 'delta', base: { rva: asRva(0x1100), length: 0x80 }, baseSha256: new Uint8Array(0), size: newBody.length, ops, implicit: { rel32: [0x40], abs64: [0x44] } },
        fixups: [
          { kind: 'rel32', offset: 0x10, target: { kind: 'block', blockId: 1, offset: 0 }, addend: -4n },
          { kind: 'rel8', offset: 0x21, target: { kind: 'block', blockId: 0, offset: 0x40 }, addend: -1n },
          { kind: 'rip-disp32', offset: 0x30, target: { kind: 'import-slot', index: 0 }, addend: -8n },
          { kind: 'abs64', offset: 0x38, target: { kind: 'block', blockId: 2, offset: 0 }, addend: 0n },
          { kind: 'abs64', offset: 0x60, target: { kind: 'import-address', index: 1 }, addend: 0n },
          { kind: 'rip-disp32', offset: 0x70, target: { kind: 'image', rva: asRva(0x2000) }, addend: -5n },
        ],
        unwind: {
          runtimeFunctions: [
            { beginOffset: 0, endOffset: 0x50, unwindInfoOffset: 0 },
            { beginOffset: 0x50, endOffset: 0x83, unwindInfoOffset: 12 },
          ],
          unwindInfo,
          unwindFixups: [{ kind: 'addr32nb', offset: 8, target: { kind: 'image', rva: asRva(0x1e00) }, addend: 0n }],
        },
      },
      {
        id: 1,
        alignment: 4,
        bytes: { kind: 'literal', bytes: added },
        fixups: [{ kind: 'rip-disp32', offset: 14, target: { kind: 'import-slot', index: 1 }, addend: -4n }],
        unwind: null,
      },
    ],
    dataBlocks: [{ id: 2, alignment: 8, bytes: { kind: 'literal', bytes: data }, fixups: [{ kind: 'abs64', offset: 16, target: { kind: 'block', blockId: 1, offset: 0 }, addend: -0x10n }] }],
    imports: [
      { dll: 'KERNEL32.dll', symbol: { kind: 'name', name: 'GetTickCount64' } },
      { dll: 'ws2_32.dll', symbol: { kind: 'ordinal', ordinal: 115 } },
    ],
    redirects: [
      { oldRva: asRva(0x1000), target: { blockId: 1, offset: 0 }, kind: 'jmp-abs64', expected: slice(img, 0x1000, 14), pad: null },
      // Expected bytes left out where the relied ranges cover the site or pad (2.1).
      { oldRva: asRva(0x1100), target: { blockId: 0, offset: 0 }, kind: 'jmp-rel32', expected: new Uint8Array(0), pad: null },
      { oldRva: asRva(0x1200), target: { blockId: 0, offset: 0x50 }, kind: 'short-to-pad', expected: slice(img, 0x1200, 2), pad: { rva: asRva(0x11f8), expected: new Uint8Array(0) } },
    ],
    functions: [
      { name: 'clamp', oldRva: asRva(0x1000), newRva: asRva(0x1010), status: 'changed', oldSize: 0x40, newSize: added.length, blockId: 1, blockOffset: 0 },
      { name: 'parse_port', oldRva: asRva(0x1100), newRva: asRva(0x1120), status: 'changed', oldSize: 0x80, newSize: 0x50, blockId: 0, blockOffset: 0 },
      { name: null, oldRva: asRva(0x1200), newRva: asRva(0x1170), status: 'changed', oldSize: 0x30, newSize: 0x33, blockId: 0, blockOffset: 0x50 },
      { name: 'helper', oldRva: null, newRva: asRva(0x1400), status: 'added', oldSize: 0, newSize: 4, blockId: 1, blockOffset: 12 },
    ],
    producer: {
      compilerVersion: 'hotpatch-formats-golden 1',
      parameters: [
        { key: 'skip-refused', value: 'false' },
        { key: 'new-time-date-stamp', value: '0x65610002' },
      ],
    },
  };
}

/**
 * The full package in the 2.2 form: its literal code block 1 and data block 2, and the literal
 * and add ops of delta block 0 (but an add op holding an implicit field), sealed
 * (formats/seal.ts) against the old image's relied range 0x1100+0x80 as the dictionary.
 */
export async function sealedPackage(): Promise<HotpatchPackage> {
  const sealed = await sealPackageWith(await fullPackage(), oldImage(), [{ rva: asRva(0x1100), length: 0x80 }], (id) => id <= 2);
  if (!sealed.ok) throw new Error(`${sealed.error.code}: ${sealed.error.message}`);
  return sealed.value;
}

/**
 * The full package in the 2.3 form: block 0's unwind info stored by reference to the old
 * function's unwind data (formats/unwind-ref.ts): an add over the old UNWIND_INFO (one byte
 * differs), a copy of the old handler RVA (the unwind fixup writes that field), and a copy from
 * an extra base range. The relied ranges cover both ranges.
 */
export async function unwindRefPackage(): Promise<HotpatchPackage> {
  const p = await fullPackage();
  const img = oldImage();
  const [b0, ...rest] = p.codeBlocks;
  const ranges = mergeRanges([...p.target.reliedRanges.map((r) => [r.rva, r.rva + r.length] as const), [0x1d00, 0x1d0c], [0x1d40, 0x1d44]]);
  const infoDelta = {
    kind: 'delta' as const,
    base: { rva: asRva(0x1d00), length: 12 },
    baseSha256: new Uint8Array(0),
    size: 16,
    ops: [
      { kind: 'add' as const, offset: 0, bytes: Uint8Array.of(0, 0, 0, 0, 0, 0xf0, 0, 0) },
      { kind: 'copy' as const, offset: 8, length: 8 },
    ],
    extraBase: [{ rva: asRva(0x1d40), length: 4 }],
  };
  const unwind = { ...b0!.unwind!, unwindInfo: new Uint8Array(0), infoDelta };
  return { ...p, target: { ...p.target, reliedRanges: ranges, reliedSha256: await reliedSha256(img, ranges) }, codeBlocks: [{ ...b0!, unwind }, ...rest] };
}

/**
 * Format 2.4: the full package with the old body of parse_port (0x1100, 0x80 bytes) as a
 * quiescent range: its record is written CHANGED_QUIESCENT, which a 2.3 reader refuses.
 */
export async function quiescentPackage(): Promise<HotpatchPackage> {
  const p = await fullPackage();
  return { ...p, quiescent: [{ rva: asRva(0x1100), length: 0x80 }] };
}

/**
 * The full package with the copy op of delta block 0 that holds its implicit fields (result
 * offsets 0x40 and 0x44) turned into an add op adding `edit` at result offset 0x40 and 0
 * elsewhere: 0 copies the field; anything else edits it, which a 2.3 reader refuses and 2.4
 * reads as a placed field (its value taken from the result).
 */
export async function withAddOverImplicit(edit: number): Promise<HotpatchPackage> {
  const full = await fullPackage();
  const b = full.codeBlocks[0]!;
  if (b.bytes.kind !== 'delta') throw new Error('delta block expected');
  let at = 0;
  const ops = b.bytes.ops.map((op): StoredOp => {
    const start = at;
    at += op.kind === 'copy' ? op.length : op.kind === 'literal' || op.kind === 'add' ? op.bytes.length : op.length;
    if (op.kind !== 'copy' || start > 0x40 || at < 0x4c) return op;
    const bytes = new Uint8Array(op.length);
    bytes[0x40 - start] = edit;
    return { kind: 'add', offset: op.offset, bytes };
  });
  return { ...full, codeBlocks: [{ ...b, bytes: { ...b.bytes, ops } }, ...full.codeBlocks.slice(1)] };
}
