/**
 * Scanned literal references (format 2.9, formats/FORMAT.md "Scanned literal references"): a
 * changed function the delta rule keeps literal (it changed too much for copies to pay) still
 * calls and loads what its old body did, and each such reference cost an explicit fixup record
 * (kind, offset gap, target RVA, addend: on watcher 2.5.0 -> 2.5.1's complete package the
 * sealed blocks' fixups were 1,915 of its 50,187 bytes). Such a block becomes a delta of one
 * literal op over its old body (base implied by its record since 2.7, so written as nothing)
 * whose scan (`call rel32`, RIP-relative disp32 of 8B 8D 89 FF) derives those fixups at plan
 * time: each field is written as the old body's field after the same 8 context bytes holds it
 * (or, with no such context, as its placed source would), so where the new body kept the old
 * instruction bytes the field holds the old bytes too, and the sealed frame's dictionary (the
 * old code) matches through it. The candidates that are no such field are listed as skips.
 *
 * A block is rewritten only when opening it as the runtime does (formats/ref-scan.ts
 * expandRefScan) derives exactly its fixups (the same S + A), and they outnumber its skips.
 * The package is kept or not by its sealed file's size (compiler/emit/seal.ts).
 */
import { changedRecordOfBlock } from '../../formats/function-records.ts';
import { contextIndex, expandRefScan, literalFixup, literalPlace, scanRefs } from '../../formats/ref-scan.ts';
import type { DeltaBytes } from '../../formats/implicit-fixups.ts';
import { movedTarget, movesOf, type Moves } from '../../formats/moves.ts';
import type { CodeBlock, Fixup, HotpatchPackage, RvaRange } from '../../formats/package.ts';
import { LITERAL_SCAN_MAX_BASE } from '../../formats/validate.ts';
import { unstableOverlap, unstableRanges } from '../image/stable-ranges.ts';
import type { MappedImage } from '../image/map-image.ts';
import { coverRedirects } from './covered-redirects.ts';
import type { OldImage } from './deltas.ts';
import { identityOf } from './identity.ts';

const NO_HASH = new Uint8Array(0);

/** S + A of an image fixup as an RVA; null for any other target. */
const rvaSum = (f: Fixup): number | null => (f.target.kind === 'image' ? f.target.rva + Number(f.addend) : null);

/** The old RVA a fixup to a block stands for when the package moved it there (the T of a moved field: rel32 to T's new place, addend -4), else null. */
function movedFrom(moves: Moves, f: Fixup): number | null {
  if (f.target.kind !== 'block') return null;
  const want = f.target.offset + Number(f.addend) + 4;
  for (const [rva, e] of moves.entries) if (e.blockId === f.target.blockId && e.offset === want) { const m = movedTarget(moves, rva); return m !== null && m.blockId === e.blockId && m.offset === want ? rva : null; }
  return null;
}

/** `b` (literal, its old body `base`) as a scanning literal delta, or null when that does not pay or would not give its fixups back. */
function scannedLiteral(b: CodeBlock, base: RvaRange, old: OldImage, moves: Moves): CodeBlock | null {
  if (b.bytes.kind !== 'literal' || b.fixups.length === 0) return null;
  const result = b.bytes.bytes.slice();
  const view = new DataView(result.buffer);
  const baseBytes = old.image.subarray(base.rva, base.rva + base.length);
  const index = contextIndex(baseBytes);
  const probe: DeltaBytes = { kind: 'delta', base, baseSha256: NO_HASH, size: result.length, ops: [{ kind: 'literal', bytes: result }], refScan: [], scanLiterals: true };
  // Each relative fixup to an old place (or to where the package moved one), in offset order,
  // written as the old field after its context would hold it (the context is final by then).
  const want = new Map<number, number>();
  for (const f of [...b.fixups].sort((x, y) => x.offset - y.offset)) {
    if (f.kind !== 'rel32' && f.kind !== 'rip-disp32') continue;
    const s = rvaSum(f);
    const t = s !== null ? s + 4 : movedFrom(moves, f);
    const at = t === null ? null : literalPlace(probe, index, result, f.offset);
    if (t === null || at === null || t < 0 || t >= old.sizeOfImage) continue;
    const v = t - at - 4;
    if (v < -0x8000_0000 || v > 0x7fff_ffff) continue;
    view.setInt32(f.offset, v, true);
    want.set(f.offset, t);
  }
  const skips: number[] = [];
  const covered = new Set<number>();
  for (const o of scanRefs(probe, result)) {
    const t = want.get(o);
    const g = t === undefined ? null : literalFixup(probe, index, result, o, moves, old.sizeOfImage);
    const f = b.fixups.find((x) => x.offset === o);
    if (g !== null && typeof g !== 'string' && f !== undefined && sameTarget(g, f)) covered.add(o);
    else skips.push(o);
  }
  if (covered.size === 0 || covered.size <= skips.length) return null;
  const out: DeltaBytes = { ...probe, refScan: skips };
  const listed = b.fixups.filter((f) => !covered.has(f.offset));
  // Opened as the runtime opens it, the block must give back exactly the covered fixups.
  const derived: Fixup[] = [];
  const back = expandRefScan(out, result, moves, old.sizeOfImage, listed, `block ${b.id}`, { base: baseBytes, derived });
  if (!back.ok || (back.value.implicit?.rel32.length ?? 0) + (back.value.implicit?.moved?.length ?? 0) > 0 || derived.length !== covered.size || !derived.every((g) => covered.has(g.offset) && sameTarget(g, b.fixups.find((x) => x.offset === g.offset)!))) return null;
  return { ...b, bytes: out, fixups: listed };
}

/** True when derived fixup `g` (REL32, addend -4) writes what `f` (REL32 or RIP_DISP32) writes: the same S + A. */
function sameTarget(g: Fixup, f: Fixup): boolean {
  if (f.kind !== 'rel32' && f.kind !== 'rip-disp32') return false;
  if (g.target.kind === 'image' && f.target.kind === 'image') return g.target.rva + Number(g.addend) === f.target.rva + Number(f.addend);
  if (g.target.kind === 'block' && f.target.kind === 'block') return g.target.blockId === f.target.blockId && g.target.offset + Number(g.addend) === f.target.offset + Number(f.addend);
  return false;
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
    const start: number = rec.oldRva;
    const end = start + rec.oldSize;
    if (end > old.sizeOfImage || rec.oldSize > LITERAL_SCAN_MAX_BASE || unstableOverlap(start, end, unstable) !== undefined) return b;
    const s = scannedLiteral(b, { rva: rec.oldRva, length: rec.oldSize }, old, moves);
    if (s === null) return b;
    relied.push([start, end]);
    changed = true;
    return s;
  });
  if (!changed) return pkg;
  return coverRedirects({ ...pkg, codeBlocks, target: identityOf(img, pkg.target.moduleName, relied) });
}
