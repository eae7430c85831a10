/**
 * Scanned references (format 2.6, formats/ref-scan.ts): a delta whose implicit fields are
 * mostly copied `call rel32` operands and RIP-relative displacements stops listing them. The
 * runtime scans the result for such fields inside copy ops and derives each one's fixup (kept
 * or moved by its old target); the delta lists the candidates that are not such a field (the
 * byte pattern inside another instruction, a reference the package re-targets explicitly, an
 * intra call) as skipped.
 *
 * A block is rewritten only when the scan, opened by the runtime's own function
 * (expandRefScan), gives back exactly the implicit fields the block listed, and when the
 * fields it saves outnumber the skips it costs; the package only when its payload shrinks.
 * On watcher 2.5.0 -> 2.5.1's complete package (2,797 implicit fields) 1,747 were such calls
 * against 218 other E8 candidates, and 619 such RIP-relative fields against about 50 others
 * (measured when this was written).
 */
import { expandRefScan, scanRefs, scannedKind } from '../../formats/ref-scan.ts';
import { encodePayload } from '../../formats/codec.ts';
import { gather } from '../../formats/delta-index.ts';
import type { DeltaBytes } from '../../formats/implicit-fixups.ts';
import { baseRanges, materialiseDelta } from '../../formats/intra-refs.ts';
import { movesOf, type Moves } from '../../formats/moves.ts';
import type { CodeBlock } from '../../formats/package.ts';
import type { MappedImage } from '../image/map-image.ts';
import type { EmittedPackage } from './types.ts';

const same = (a: readonly number[] | undefined, b: readonly number[] | undefined): boolean => (a ?? []).length === (b ?? []).length && (a ?? []).every((x, i) => x === b![i]);

/** `b` with its reference fields left to the scan, or `b` when that does not pay or would not reproduce its fields. */
function scannedBlock(b: CodeBlock, old: Uint8Array, sizeOfImage: number, moves: Moves): CodeBlock {
  if (b.bytes.kind !== 'delta' || b.bytes.refScan !== undefined || b.bytes.ops.some((op) => op.kind === 'sealed-literal' || op.kind === 'sealed-add')) return b;
  const d: DeltaBytes = b.bytes;
  const rel32 = new Set(d.implicit?.rel32 ?? []);
  const moved = new Set(d.implicit?.moved ?? []);
  if (rel32.size + moved.size === 0) return b;
  const base = gather(old, baseRanges(d));
  const result = base === null ? null : materialiseDelta(d, base);
  if (result === null || !result.ok) return b;
  const skips: number[] = [];
  const covered = new Set<number>();
  for (const o of scanRefs(d, result.value)) {
    const k = scannedKind(d, result.value, o, moves, sizeOfImage);
    if ((k === 'rel32' && rel32.has(o)) || (k === 'moved' && moved.has(o))) covered.add(o);
    else skips.push(o);
  }
  if (covered.size === 0 || covered.size < skips.length) return b;
  const implicit = { ...d.implicit!, rel32: d.implicit!.rel32.filter((o) => !covered.has(o)), ...(d.implicit!.moved !== undefined ? { moved: d.implicit!.moved.filter((o) => !covered.has(o)) } : {}) };
  // No list left: no `implicit` (as the codec reads a delta back).
  const { implicit: _, ...rest } = d;
  const left = implicit.rel32.length + implicit.abs64.length + (implicit.moved?.length ?? 0) + (implicit.moved64?.length ?? 0);
  const out: DeltaBytes = { ...(left > 0 ? { ...rest, implicit } : rest), refScan: skips };
  // Opened as the runtime opens it, the block must list exactly what it listed before.
  const back = expandRefScan(out, result.value, moves, sizeOfImage, b.fixups, `block ${b.id}`);
  if (!back.ok || !same(back.value.implicit?.rel32, d.implicit?.rel32) || !same(back.value.implicit?.moved ?? [], d.implicit?.moved ?? [])) return b;
  return { ...b, bytes: out };
}

/** `emitted` with every code block's reference fields left to the scan where that pays (see the module comment). */
export function withRefScans(oldImg: MappedImage, emitted: EmittedPackage): EmittedPackage {
  const pkg = emitted.pkg;
  const moves = movesOf(pkg);
  const sizeOfImage = oldImg.pe.optionalHeader.sizeOfImage;
  let changed = false;
  const codeBlocks = pkg.codeBlocks.map((b) => {
    const s = scannedBlock(b, oldImg.image, sizeOfImage, moves);
    changed ||= s !== b;
    return s;
  });
  if (!changed) return emitted;
  const out = { ...pkg, codeBlocks };
  return encodePayload(out).length < encodePayload(pkg).length ? { ...emitted, pkg: out } : emitted;
}
