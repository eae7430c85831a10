/**
 * Scanned references (format 2.6, FORMAT.md "Scanned references"): most implicit fields of a
 * changed function's delta are references its old body already made, copied as they were: the
 * rel32 of a `call` (E8), the RIP-relative displacement of a load, a lea, a store or an
 * indirect call (8B, 8D, 89 or FF with ModRM mod 00, r/m 101). Since 2.6 such a delta (storage
 * `delta_with_ref_scan`) need not list them: every 4-byte field of the result that follows one
 * of those byte patterns and lies inside one copy op (within one base range) is implicit,
 * except at the offsets the delta lists as skipped (`refScan`). A scanned field keeps pointing
 * where the old field at its copy source points (an implicit rel32: the same S + A), or, when
 * that old target moved with the package (formats/moves.ts: a changed function's entry, a
 * place in a replaced range), at where it moved (an implicit moved field).
 *
 * `openRefScans` turns such deltas back into ordinary implicit lists, for everyone who
 * materialises blocks: the runtime's planner (after the relied hash, the sealed frame and the
 * unwind blobs) and the compiler's paper image (compiler/verify), so both derive the same
 * fixups; the merged fields are held to the rules listed ones are (disjoint from each other,
 * from intra fields and from the block's explicit fixups). The compiler (compiler/emit/
 * ref-scans.ts) skips every candidate whose derived fixup is not the one it wants.
 *
 * Since 2.9 (storage `delta_with_literal_scan`, `scanLiterals`) candidates inside literal ops
 * count too: each is derived as an explicit REL32 fixup from its context place (literalPlace:
 * after the first occurrence in the base of the 8 bytes before it, else its placed source),
 * which openRefScans adds to the block's fixups.
 */
import { err, ok, type Result } from '../common/errors.ts';
import { copySource, gather, placedRva, placedSource, rvaInOneRange } from './delta-index.ts';
import { checkImplicitFixups, type DeltaBytes } from './implicit-fixups.ts';
import { baseRanges, checkIntraRefs, materialiseDelta } from './intra-refs.ts';
import { movedTarget, movesOf, type Moves } from './moves.ts';
import type { BlockBytes, Fixup, HotpatchPackage } from './package.ts';
import type { Rva } from '../common/types.ts';
import { coveredByRelied, FIXUP_WIDTH, LITERAL_SCAN_MAX_BASE } from './validate.ts';

/** `call rel32`: its operand is a candidate. */
const CALL = 0xe8;
/** Opcodes whose ModRM may name a RIP-relative disp32 ending the instruction: mov r, [m]; lea; mov [m], r; the FF group (call/jmp/push/inc/dec [m]). */
const RIP_OPCODES: ReadonlySet<number> = new Set([0x8b, 0x8d, 0x89, 0xff]);
/** Bytes of a scanned field. */
const WIDTH = 4;

/** True when the bytes before offset `o` of `r` make the field at `o` a candidate: E8, or one of RIP_OPCODES and a ModRM with mod 00, r/m 101. */
function leadsField(r: Uint8Array, o: number): boolean {
  const m = r[o - 1]!;
  return m === CALL || (o >= 2 && (m & 0xc7) === 0x05 && RIP_OPCODES.has(r[o - 2]!));
}

/**
 * The scan's candidates in `d`'s result (the delta's bytes as its ops give them, intra fields
 * rewritten): ascending offsets o where the bytes before o lead a field (result[o - 1] = E8, or
 * result[o - 2] in 8B 8D 89 FF and result[o - 1] & C7 = 05) whose 4 bytes lie inside one copy
 * op and, there, inside one base range. Candidates may overlap one another.
 */
export function scanRefs(d: DeltaBytes, result: Uint8Array): number[] {
  const ranges = baseRanges(d);
  const out: number[] = [];
  let at = 0;
  for (const op of d.ops) {
    const len = op.kind === 'literal' || op.kind === 'add' ? op.bytes.length : op.length;
    if (op.kind === 'copy') {
      for (let o = Math.max(at, 1); o + WIDTH <= at + op.length; o++) {
        if (!leadsField(result, o)) continue;
        if (rvaInOneRange(ranges, op.offset + (o - at), WIDTH) !== null) out.push(o);
      }
    } else if (op.kind === 'literal' && d.scanLiterals === true) {
      // 2.9: inside one literal op, a placed field (its place in the base ranges, continued past them).
      for (let o = Math.max(at, 1); o + WIDTH <= at + len; o++) if (leadsField(result, o)) out.push(o);
    }
    at += len;
  }
  return out;
}

/**
 * What the scanned field at `o` stands for: 'moved' when the old target moved with the package,
 * 'rel32' when it is a place in the image; a string says why it is neither.
 */
export function scannedKind(d: DeltaBytes, result: Uint8Array, o: number, moves: Moves, sizeOfImage: number): 'rel32' | 'moved' | string {
  const src = copySource(d.ops, o, WIDTH);
  const fieldRva = src === null ? null : rvaInOneRange(baseRanges(d), src, WIDTH);
  if (fieldRva === null || o + WIDTH > result.length) return 'not inside one copy op';
  const target = fieldRva + WIDTH + new DataView(result.buffer, result.byteOffset, result.byteLength).getInt32(o, true);
  if (movedTarget(moves, target) !== null) return 'moved';
  return target >= 0 && target < sizeOfImage ? 'rel32' : `points at 0x${target.toString(16)}, outside the image`;
}

/** Bytes before a literal candidate (2.9) that place it in the base: where they first occur there, the field follows. */
export const LITERAL_CONTEXT = 8;

/**
 * The first base offset of every LITERAL_CONTEXT-byte window of `base` that a 4-byte field can
 * follow (window end + 4 <= base length), by the window's bytes.
 */
export function contextIndex(base: Uint8Array): ReadonlyMap<bigint, number> {
  const out = new Map<bigint, number>();
  const v = new DataView(base.buffer, base.byteOffset, base.byteLength);
  for (let q = 0; q + LITERAL_CONTEXT + WIDTH <= base.length; q++) {
    const k = v.getBigUint64(q, true);
    if (!out.has(k)) out.set(k, q);
  }
  return out;
}

/**
 * The old RVA a literal candidate at `o` stands at (2.9, FORMAT.md "Scanned literal
 * references"): when the LITERAL_CONTEXT bytes before it occur in the base bytes (`index`,
 * contextIndex of the base ranges' bytes concatenated), the RVA right after their first
 * occurrence; otherwise its placed source (delta-index.ts placedSource, placedRva); null when
 * neither exists.
 */
export function literalPlace(d: DeltaBytes, index: ReadonlyMap<bigint, number>, result: Uint8Array, o: number): number | null {
  const ranges = baseRanges(d);
  if (o >= LITERAL_CONTEXT) {
    const q = index.get(new DataView(result.buffer, result.byteOffset, result.byteLength).getBigUint64(o - LITERAL_CONTEXT, true));
    if (q !== undefined) return placedRva(ranges, q + LITERAL_CONTEXT);
  }
  const placed = placedSource(d.ops, o);
  return placed === null ? null : placedRva(ranges, placed);
}

/**
 * The fixup a literal candidate at `o` stands for (2.9): REL32 with addend -4 to T = its place
 * + 4 + the field's int32, or to where the package moved T; a string says why neither.
 */
export function literalFixup(d: DeltaBytes, index: ReadonlyMap<bigint, number>, result: Uint8Array, o: number, moves: Moves, sizeOfImage: number): Fixup | string {
  const at = literalPlace(d, index, result, o);
  if (at === null || o + WIDTH > result.length) return 'has no place in the base';
  const target = at + WIDTH + new DataView(result.buffer, result.byteOffset, result.byteLength).getInt32(o, true);
  const to = movedTarget(moves, target);
  if (to !== null) return { kind: 'rel32', offset: o, target: to, addend: -4n };
  if (target < 0 || target >= sizeOfImage) return `points at 0x${target.toString(16)}, outside the image`;
  return { kind: 'rel32', offset: o, target: { kind: 'image', rva: target as Rva }, addend: -4n };
}

/**
 * `d` with its scanned references (2.6) listed as implicit fields, read from `result`; PKG_INVALID
 * when a skipped offset is no candidate, a scanned field derives nothing, or the merged fields
 * overlap one another, an intra field or one of `fixups` (the block's explicit fixups).
 */
export function expandRefScan(d: DeltaBytes, result: Uint8Array, moves: Moves, sizeOfImage: number, fixups: readonly Fixup[], path: string, literal?: { readonly base: Uint8Array; readonly derived: Fixup[] }): Result<DeltaBytes> {
  const skips = d.refScan ?? [];
  const candidates = scanRefs(d, result);
  const skipped = new Set(skips);
  const known = new Set(candidates);
  const stray = skips.find((o) => !known.has(o));
  if (stray !== undefined) return err('PKG_INVALID', `${path}.refScan: skipped offset ${stray} is no scanned reference`);
  const rel32 = [...(d.implicit?.rel32 ?? [])];
  const moved = [...(d.implicit?.moved ?? [])];
  const derived: Fixup[] = [];
  if (d.scanLiterals === true && literal !== undefined && literal.base.length > LITERAL_SCAN_MAX_BASE) return err('PKG_INVALID', `${path}: scanned literal references over a ${literal.base.length}-byte base`);
  const index = d.scanLiterals === true && literal !== undefined ? contextIndex(literal.base) : null;
  for (const o of candidates) {
    if (skipped.has(o)) continue;
    if (d.scanLiterals === true && copySource(d.ops, o, WIDTH) === null) {
      // 2.9: a literal candidate is an explicit fixup once derived.
      const f = index === null ? 'needs the base bytes' : literalFixup(d, index, result, o, moves, sizeOfImage);
      if (typeof f === 'string') return err('PKG_INVALID', `${path}.refScan: the scanned literal field at ${o} ${f}`);
      derived.push(f);
      continue;
    }
    const k = scannedKind(d, result, o, moves, sizeOfImage);
    if (k === 'rel32') rel32.push(o);
    else if (k === 'moved') moved.push(o);
    else return err('PKG_INVALID', `${path}.refScan: the scanned field at ${o} ${k}`);
  }
  const { refScan: _, scanLiterals: _l, ...rest } = d;
  const implicit = { rel32: rel32.sort((a, b) => a - b), abs64: d.implicit?.abs64 ?? [], moved: moved.sort((a, b) => a - b), ...(d.implicit?.moved64 !== undefined ? { moved64: d.implicit.moved64 } : {}) };
  const out: DeltaBytes = { ...rest, implicit };
  // Derived literal fields are checked against the others as implicit ones would be.
  const probe: DeltaBytes = derived.length === 0 ? out : { ...out, implicit: { ...implicit, rel32: [...implicit.rel32, ...derived.map((f) => f.offset)].sort((a, b) => a - b) } };
  const checked = [checkImplicitFixups(probe, path), checkIntraRefs(probe, path)].find((r) => !r.ok);
  if (checked !== undefined) return checked as Result<never>;
  // Explicit fixups may not write a scanned field (validation checked the listed ones).
  const taken = new Uint8Array(d.size);
  for (const o of [...rel32, ...moved, ...derived.map((f) => f.offset)]) taken.fill(1, o, o + WIDTH);
  const hit = fixups.find((f) => taken.subarray(f.offset, f.offset + FIXUP_WIDTH[f.kind]).some((x) => x === 1));
  if (hit !== undefined) return err('PKG_INVALID', `${path}: a fixup at ${hit.offset} overlaps a scanned field`);
  if (literal !== undefined) literal.derived.push(...derived);
  return ok(out);
}

/**
 * `pkg` with every delta that scans its references (2.6) turned into one that lists them, the
 * deltas materialised from `image` (the old image mapped at its preferred base, whose relied
 * bytes the caller has compared with the package's hash; sealed ops already opened). The same
 * object when no delta scans. PKG_INVALID as expandRefScan, or when a base range is not
 * covered by the relied ranges or lies outside the image.
 */
export function openRefScans(pkg: HotpatchPackage, image: Uint8Array): Result<HotpatchPackage> {
  const scans = (b: { readonly bytes: BlockBytes }): boolean => b.bytes.kind === 'delta' && b.bytes.refScan !== undefined;
  if (!pkg.codeBlocks.some(scans) && !pkg.dataBlocks.some(scans)) return ok(pkg);
  const moves = movesOf(pkg);
  let failed: Result<never> | null = null;
  const open = <B extends { readonly id: number; readonly bytes: BlockBytes; readonly fixups: readonly Fixup[] }>(b: B): B => {
    if (failed !== null || b.bytes.kind !== 'delta' || b.bytes.refScan === undefined) return b;
    const d = b.bytes;
    const path = `block ${b.id}`;
    const ranges = baseRanges(d);
    const uncovered = ranges.find((r) => r.length === 0 || !coveredByRelied(pkg.target.reliedRanges, r.rva, r.length));
    const base = uncovered === undefined ? gather(image, ranges) : null;
    if (base === null) {
      failed = err('PKG_INVALID', `${path}: a delta base range is not covered by the relied ranges or lies outside the image`);
      return b;
    }
    const result = materialiseDelta(d, base, path);
    const derived: Fixup[] = [];
    const r = result.ok ? expandRefScan(d, result.value, moves, pkg.target.sizeOfImage, b.fixups, path, { base, derived }) : result;
    if (!r.ok) {
      failed = err('PKG_INVALID', r.error.message);
      return b;
    }
    // 2.9: derived literal fields join the block's fixups, in offset order.
    return derived.length === 0 ? { ...b, bytes: r.value } : { ...b, bytes: r.value, fixups: [...b.fixups, ...derived].sort((x, y) => x.offset - y.offset) };
  };
  const codeBlocks = pkg.codeBlocks.map(open);
  const dataBlocks = pkg.dataBlocks.map(open);
  return failed ?? ok({ ...pkg, codeBlocks, dataBlocks });
}
