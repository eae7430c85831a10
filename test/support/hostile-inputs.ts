/**
 * Test support: the hostile inputs of issue #17, derived deterministically from the committed
 * sample samples/bin/logic-fix/v1.dll (a few header or table fields changed), so the fixtures
 * are the sample plus a documented edit rather than opaque binaries.
 *
 *  - pdataEnd(end): the first .pdata entry's EndAddress set to `end` (item 1).
 *  - sizeOfImage(size): OptionalHeader.SizeOfImage set to `size` (item 2).
 *  - hugeZeroFill(): the last section's VirtualSize (and SizeOfImage with it) raised to
 *    1 GiB, so SizeOfImage is "justified" by a zero-filled section (item 2, the class).
 *  - machine(m): FileHeader.Machine set to `m` (0x14c i386, 0xaa64 ARM64; item 6).
 *  - deltaBombPackage(key): a signed package for logic-fix whose first code block is a
 *    well-formed delta expanding to hundreds of MB (item 3); built from the compiler's package.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { asRva } from '../../common/types.ts';
import { buildPackage, mapImage } from '../../compiler/index.ts';
import { parsePe } from '../../runtime/pe/parse-pe.ts';
import { sha256 } from '../../runtime/pe/sha256.ts';
import { encodePayload } from '../../formats/codec.ts';
import type { SigningKey } from '../../formats/keys.ts';
import type { HotpatchPackage } from '../../formats/package.ts';
import { reliedSha256 } from '../../formats/testing/sample-packages.ts';
import { wrapRaw } from '../../formats/testing/wrap.ts';

export const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '../..');
export const SAMPLE_V1 = join(ROOT, 'samples/bin/logic-fix/v1.dll');
export const SAMPLE_V2 = join(ROOT, 'samples/bin/logic-fix/v2.dll');

/** The sample's bytes (a fresh copy each call). */
export function sampleV1(): Uint8Array {
  return new Uint8Array(readFileSync(SAMPLE_V1));
}

interface Layout {
  readonly view: DataView;
  /** Offset of the optional header. */
  readonly oh: number;
  readonly sectionTable: number;
  readonly sections: number;
}

function layout(b: Uint8Array): Layout {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const nt = view.getUint32(0x3c, true);
  const oh = nt + 24;
  return { view, oh, sectionTable: oh + view.getUint16(nt + 20, true), sections: view.getUint16(nt + 6, true) };
}

/** File offset of `rva` in the sample (inside some section's raw data). */
function fileOffset(b: Uint8Array, rva: number): number {
  const l = layout(b);
  for (let i = 0; i < l.sections; i++) {
    const s = l.sectionTable + i * 40;
    const va = l.view.getUint32(s + 12, true);
    const raw = l.view.getUint32(s + 16, true);
    if (rva >= va && rva < va + raw) return l.view.getUint32(s + 20, true) + (rva - va);
  }
  throw new Error(`RVA 0x${rva.toString(16)} is not file-backed in the sample`);
}

/** The sample with the first .pdata entry's EndAddress set to `end`. */
export function pdataEnd(end: number): Uint8Array {
  const b = sampleV1();
  const l = layout(b);
  const pdataRva = l.view.getUint32(l.oh + 112 + 3 * 8, true);
  if (pdataRva === 0) throw new Error('the sample has no .pdata');
  l.view.setUint32(fileOffset(b, pdataRva) + 4, end, true);
  return b;
}

/** The sample with SizeOfImage set to `size`. */
export function sizeOfImage(size: number): Uint8Array {
  const b = sampleV1();
  const l = layout(b);
  l.view.setUint32(l.oh + 56, size, true);
  return b;
}

/** The sample whose last section (by RVA) is 1 GiB of mostly zero fill, SizeOfImage to match. */
export function hugeZeroFill(): Uint8Array {
  const b = sampleV1();
  const l = layout(b);
  const s = l.sectionTable + lastSection(l) * 40;
  const va = l.view.getUint32(s + 12, true);
  const size = 0x4000_0000 - va;
  l.view.setUint32(s + 8, size, true);
  l.view.setUint32(l.oh + 56, va + size, true);
  return b;
}

/** The index (in the section table) of the sample's last section by RVA. */
function lastSection(l: ReturnType<typeof layout>): number {
  let last = 0;
  for (let i = 1; i < l.sections; i++) {
    if (l.view.getUint32(l.sectionTable + i * 40 + 12, true) > l.view.getUint32(l.sectionTable + last * 40 + 12, true)) last = i;
  }
  return last;
}

/**
 * The sample whose last section (by RVA, its size unchanged) is moved to `va`, SizeOfImage
 * to match: a gap of nearly `va` bytes that nothing in the file backs (fuzz case 459653 of
 * discovery-diff, seed 1213221681, was such a file and cost +866 MB before its refusal).
 */
export function farSection(va: number): Uint8Array {
  const b = sampleV1();
  const l = layout(b);
  const s = l.sectionTable + lastSection(l) * 40;
  const size = Math.max(l.view.getUint32(s + 8, true), 1);
  l.view.setUint32(s + 12, va, true);
  l.view.setUint32(l.oh + 56, (va + size + 0xfff) & ~0xfff, true);
  return b;
}

/**
 * The sample with every section's raw data pointed at its largest section's and grown to
 * its raw size: the sections map more file bytes than the file holds.
 */
export function aliasedRawData(): Uint8Array {
  const b = sampleV1();
  const l = layout(b);
  let big = 0;
  for (let i = 1; i < l.sections; i++) {
    if (l.view.getUint32(l.sectionTable + i * 40 + 16, true) > l.view.getUint32(l.sectionTable + big * 40 + 16, true)) big = i;
  }
  const raw = l.view.getUint32(l.sectionTable + big * 40 + 16, true);
  const ptr = l.view.getUint32(l.sectionTable + big * 40 + 20, true);
  for (let i = 0; i < l.sections; i++) {
    const s = l.sectionTable + i * 40;
    l.view.setUint32(s + 16, raw, true);
    l.view.setUint32(s + 20, ptr, true);
    l.view.setUint32(s + 8, Math.max(l.view.getUint32(s + 8, true), raw), true);
  }
  return b;
}

/** The sample with FileHeader.Machine set to `m`. */
export function machine(m: number): Uint8Array {
  const b = sampleV1();
  const nt = new DataView(b.buffer).getUint32(0x3c, true);
  new DataView(b.buffer).setUint16(nt + 4, m, true);
  return b;
}

/** The real compiler's package for logic-fix v1 -> v2 (signed by the caller's key later). */
export function samplePackage(): HotpatchPackage {
  const built = buildPackage(sampleV1(), new Uint8Array(readFileSync(SAMPLE_V2)), { moduleName: 'logic-fix.dll', skipRefused: false, series: null, compilerVersion: 'hostile-inputs' });
  if (!built.ok) throw new Error(built.error.message);
  return built.value.emitted.pkg;
}

/** Copy ops in the bomb's delta: a few hundred KB of protobuf that zstd squeezes to almost nothing. */
export const DELTA_BOMB_OPS = 200_000;

/**
 * The sample package with its first code block replaced by a well-formed delta: DELTA_BOMB_OPS
 * copies of the largest relied range (correct base hash, ops summing exactly to the declared
 * size, so every per-block rule holds) that expands to hundreds of MB. Signed with `key`: a
 * trusted signer's mistake or a stolen key must still not cost gigabytes.
 */
export async function deltaBombPackage(key: SigningKey): Promise<{ file: Uint8Array; declared: number }> {
  const pkg = samplePackage();
  const img = findImage();
  // One relied range from the first page of code to the last relied byte (so the base is
  // large and pinned by a correct identity hash, as a real signer's package would be).
  const rs = pkg.target.reliedRanges;
  const lo = Math.min(0x1000, ...rs.map((r) => r.rva));
  const hi = Math.max(...rs.map((r) => r.rva + r.length), lo + 0x1000);
  const relied = [{ rva: asRva(lo), length: hi - lo }];
  const base = { rva: asRva(lo), length: 0x1000 };
  const ops = Array.from({ length: DELTA_BOMB_OPS }, () => ({ kind: 'copy' as const, offset: 0, length: base.length }));
  const first = pkg.codeBlocks[0]!;
  const declared = DELTA_BOMB_OPS * base.length;
  const bomb: HotpatchPackage = {
    ...pkg,
    target: { ...pkg.target, reliedRanges: relied, reliedSha256: await reliedSha256(img, relied) },
    codeBlocks: [{ ...first, fixups: [], unwind: null, bytes: { kind: 'delta', base, baseSha256: sha256(img.subarray(base.rva, base.rva + base.length)), size: declared, ops } }, ...pkg.codeBlocks.slice(1)],
  };
  return { file: await wrapRaw(encodePayload(bomb), { key }), declared };
}

/** The sample mapped as the loader would (for base hashes). */
function findImage(): Uint8Array {
  const b = sampleV1();
  const pe = parsePe(b);
  if (!pe.ok) throw new Error(pe.error.message);
  const m = mapImage(b, pe.value);
  if (!m.ok) throw new Error(m.error.message);
  return m.value.image;
}
