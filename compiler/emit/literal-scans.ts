/**
 * Scanned literal references (format 2.9, formats/FORMAT.md "Scanned literal references"): a
 * changed function the delta rule keeps literal (it changed too much for copies to pay) still
 * calls and loads what its old body did, and each such reference cost an explicit fixup record
 * (kind, offset gap, target RVA, addend: on watcher 2.5.0 -> 2.5.1's complete package the
 * sealed blocks' fixups were 1,915 of its 50,187 bytes). Such a block becomes a delta of one
 * literal op over its old body (base implied by its record since 2.7, so written as nothing):
 * every relative image fixup, and every one to a moved function, becomes a placed field
 * (2.4: its bytes are what the old body would hold at the same offset), and the scan of the
 * literal op (`call rel32`, RIP-relative disp32 of 8B 8D 89 FF) names them without a list;
 * the candidates that are not such a field are listed as skips.
 *
 * A block is rewritten only when opening it as the runtime does (formats/ref-scan.ts
 * expandRefScan) gives back exactly the placed fields, and the fields the scan names outnumber
 * its skips. The package is kept or not by its sealed file's size (compiler/emit/seal.ts): a
 * placed field ends the dictionary match that a filled fixup field continues.
 */
import { changedRecordOfBlock } from '../../formats/function-records.ts';
import { expandRefScan, scanRefs, scannedKind } from '../../formats/ref-scan.ts';
import type { DeltaBytes } from '../../formats/implicit-fixups.ts';
import { movesOf, type Moves } from '../../formats/moves.ts';
import type { CodeBlock, HotpatchPackage, RvaRange } from '../../formats/package.ts';
import { unstableOverlap, unstableRanges } from '../image/stable-ranges.ts';
import type { MappedImage } from '../image/map-image.ts';
import { coverRedirects } from './covered-redirects.ts';
import { placeFields, type OldImage } from './deltas.ts';
import { identityOf } from './identity.ts';

const NO_HASH = new Uint8Array(0);
const same = (a: readonly number[] | undefined, b: readonly number[] | undefined): boolean => (a ?? []).length === (b ?? []).length && (a ?? []).every((x, i) => x === b![i]);

/** `b` (literal, its old body `base`) as a scanning literal delta, or null when that does not pay or would not give its fixups back. */
function scannedLiteral(b: CodeBlock, base: RvaRange, old: OldImage, moves: Moves): CodeBlock | null {
  if (b.bytes.kind !== 'literal' || b.fixups.length === 0) return null;
  const bytes = b.bytes.bytes;
  const baseBytes = old.image.subarray(base.rva, base.rva + base.length);
  const placed = placeFields(old, baseBytes, [base], [{ kind: 'literal', bytes }], { implicit: {}, listed: [...b.fixups], moved: [] });
  const implicit = placed.implicit.implicit;
  const op = placed.ops[0];
  if (implicit === undefined || placed.ops.length !== 1 || op === undefined || op.kind !== 'literal') return null;
  const result = op.bytes;
  const rel32 = new Set(implicit.rel32);
  const moved = new Set(implicit.moved ?? []);
  const probe: DeltaBytes = { kind: 'delta', base, baseSha256: NO_HASH, size: bytes.length, ops: placed.ops, refScan: [], scanLiterals: true };
  const skips: number[] = [];
  const covered = new Set<number>();
  for (const o of scanRefs(probe, result)) {
    const k = scannedKind(probe, result, o, moves, old.sizeOfImage);
    if ((k === 'rel32' && rel32.has(o)) || (k === 'moved' && moved.has(o))) covered.add(o);
    else skips.push(o);
  }
  if (covered.size === 0 || covered.size <= skips.length) return null;
  const left = {
    rel32: implicit.rel32.filter((o) => !covered.has(o)),
    abs64: implicit.abs64,
    ...(implicit.moved !== undefined && implicit.moved.some((o) => !covered.has(o)) ? { moved: implicit.moved.filter((o) => !covered.has(o)) } : {}),
  };
  const any = left.rel32.length + left.abs64.length + (left.moved?.length ?? 0) > 0;
  const out: DeltaBytes = { ...probe, refScan: skips, ...(any ? { implicit: left } : {}) };
  // Opened as the runtime opens it, the block must list exactly the placed fields.
  const back = expandRefScan(out, result, moves, old.sizeOfImage, placed.listed, `block ${b.id}`);
  if (!back.ok || !same(back.value.implicit?.rel32, implicit.rel32) || !same(back.value.implicit?.moved, implicit.moved) || !same(back.value.implicit?.abs64, implicit.abs64)) return null;
  return { ...b, bytes: out, fixups: placed.listed };
}

/**
 * `pkg` (emitted from OLD, `img`, not sealed) with every literal code block of one changed
 * function stored as a scanning literal delta where that pays (see the module comment), its
 * old body added to the relied ranges; `pkg` itself when no block changes.
 */
export function withLiteralScans(img: MappedImage, pkg: HotpatchPackage): HotpatchPackage {
  if (pkg.sealed !== undefined) return pkg;
  const byBlock = changedRecordOfBlock(pkg.functions);
  const unstable = unstableRanges(img);
  const moves = movesOf(pkg);
  const old: OldImage = { image: img.image, imageBase: img.pe.optionalHeader.imageBase, sizeOfImage: img.pe.optionalHeader.sizeOfImage, moves };
  const relied: Array<[number, number]> = pkg.target.reliedRanges.map((r): [number, number] => [r.rva, r.rva + r.length]);
  let changed = false;
  const codeBlocks = pkg.codeBlocks.map((b) => {
    const rec = byBlock.get(b.id);
    if (rec === undefined || rec === null || rec.oldRva === null || rec.oldSize === 0 || b.bytes.kind !== 'literal') return b;
    const start = rec.oldRva as number;
    const end = start + rec.oldSize;
    if (end > old.sizeOfImage || unstableOverlap(start, end, unstable) !== undefined) return b;
    const s = scannedLiteral(b, { rva: rec.oldRva, length: rec.oldSize }, old, moves);
    if (s === null) return b;
    relied.push([start, end]);
    changed = true;
    return s;
  });
  if (!changed) return pkg;
  return coverRedirects({ ...pkg, codeBlocks, target: identityOf(img, pkg.target.moduleName, relied) });
}
