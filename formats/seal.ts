/**
 * Sealed bytes (format 2.2, FORMAT.md "Sealed bytes"): the literal bytes of some blocks held
 * in one zstd frame compressed with old-image bytes as a raw-content dictionary. New code
 * shares much with the code it replaces (the same compiler, the same helpers, the same
 * constants), which a frame with no history cannot use.
 *
 * One function turns a sealed package back into literal blocks, for everyone who
 * materialises blocks: the runtime's planner (after checkReliedBytes has compared the relied
 * ranges, which cover every dictionary range, with the package's hash) and the compiler's
 * paper image (compiler/verify), so both see exactly the same bytes. The other direction,
 * sealPackageWith, is the compiler's: it moves literal blocks into a frame against the ranges
 * it chose (and already made relied).
 */
import { err, ok, type Result } from '../common/errors.ts';
import type { BlockBytes, HotpatchPackage, RvaRange, StoredOp } from './package.ts';
import { gather } from './delta-index.ts';
import { checkImplicitFixups } from './implicit-fixups.ts';
import { checkIntraRefs } from './intra-refs.ts';
import { checkBudget, coveredByRelied, sealedLength } from './validate.ts';
import { decodeZstdFrame } from './zstd-decode.ts';
import { compressZstdWithDictionary, readZstdFrameHeader } from './zstd.ts';

/**
 * `pkg` with every sealed block made literal: the frame decoded against the bytes of its
 * dictionary ranges in `image` (the old image mapped at its preferred base, whose relied bytes
 * the caller has compared with the package's hash). Unchanged (the same object) when nothing
 * is sealed. A library caller may pass an unvalidated package: PKG_BOMB when the declared
 * sizes are over the budget (checkBudget, before the frame's output is allocated);
 * PKG_INVALID when a dictionary range is not covered by the relied ranges or lies outside the
 * image, or the frame's declared size is not the sealed blocks' sum; PKG_ZSTD when the frame
 * does not decode (with a checked dictionary, only a corrupt frame can fail here).
 */
export function unsealPackage(pkg: HotpatchPackage, image: Uint8Array): Result<HotpatchPackage> {
  const z = pkg.sealed;
  // The frame's output and dictionary are allocated at the declared sizes: bounded first.
  const budget = checkBudget(pkg);
  if (!budget.ok) return budget;
  const total = sealedLength(pkg);
  if (z === undefined) return total === 0 ? ok(pkg) : err('PKG_INVALID', 'sealed blocks, and the package has no sealed frame');
  for (const r of z.dictionary) {
    if (!coveredByRelied(pkg.target.reliedRanges, r.rva, r.length)) return err('PKG_INVALID', `sealed dictionary range 0x${r.rva.toString(16)}+${r.length} is not covered by the relied ranges`);
  }
  const dictionary = gather(image, z.dictionary);
  if (dictionary === null) return err('PKG_INVALID', 'a sealed dictionary range lies outside the image');
  const h = readZstdFrameHeader(z.frame);
  if (!h.ok) return h;
  if (h.value.contentSize !== total) return err('PKG_INVALID', `sealed frame declares ${h.value.contentSize ?? 'no'} content bytes, the sealed blocks hold ${total}`);
  const bytes = decodeZstdFrame(z.frame, total, dictionary);
  if (!bytes.ok) return err('PKG_ZSTD', `sealed frame: ${bytes.error.message}`, bytes.error.offset);
  let at = 0;
  const take = (n: number): Uint8Array => bytes.value.slice(at, (at += n));
  const openOp = (op: StoredOp): StoredOp =>
    op.kind === 'sealed-literal' ? { kind: 'literal', bytes: take(op.length) } : op.kind === 'sealed-add' ? { kind: 'add', offset: op.offset, bytes: take(op.length) } : op;
  const open = <B extends { readonly bytes: BlockBytes }>(b: B): B => {
    if (b.bytes.kind === 'delta') return b.bytes.ops.some(isSealedOp) ? { ...b, bytes: { ...b.bytes, ops: b.bytes.ops.map(openOp) } } : b;
    if (b.bytes.kind !== 'sealed') return b;
    return { ...b, bytes: { kind: 'literal', bytes: take(b.bytes.length) } };
  };
  const codeBlocks = pkg.codeBlocks.map(open);
  const dataBlocks = pkg.dataBlocks.map(open);
  // Validation could not see an add op's bytes under an intra field while it was sealed (it
  // must add 0 there; over an implicit field an edit makes a placed field, 2.4): checked now,
  // before any caller materialises the block.
  for (const [i, b] of [...codeBlocks, ...dataBlocks].entries()) {
    const was = [...pkg.codeBlocks, ...pkg.dataBlocks][i]!.bytes;
    if (b.bytes.kind !== 'delta' || was.kind !== 'delta' || !was.ops.some(isSealedOp)) continue;
    const path = `block ${b.id}`;
    const checked = [checkImplicitFixups(b.bytes, path), checkIntraRefs(b.bytes, path)].find((r) => !r.ok);
    if (checked !== undefined) return checked;
  }
  const { sealed: _, ...rest } = pkg;
  return ok({ ...rest, codeBlocks, dataBlocks });
}

/**
 * `pkg` with the literal blocks `seal` picks (by block id) moved into a sealed frame compressed
 * against the bytes of `dictionary` in `image`: code blocks in order, then data blocks. The
 * dictionary ranges must already lie inside the package's relied ranges (PKG_INVALID
 * otherwise). The result is checked by unsealing it again: the same bytes come back, or
 * PKG_ZSTD.
 */
export async function sealPackageWith(pkg: HotpatchPackage, image: Uint8Array, dictionary: readonly RvaRange[], seal: (id: number) => boolean): Promise<Result<HotpatchPackage>> {
  if (pkg.sealed !== undefined) return err('PKG_INVALID', 'package is sealed already');
  for (const r of dictionary) if (!coveredByRelied(pkg.target.reliedRanges, r.rva, r.length)) return err('PKG_INVALID', `dictionary range 0x${r.rva.toString(16)}+${r.length} is not covered by the relied ranges`);
  const dict = gather(image, dictionary);
  if (dict === null) return err('PKG_INVALID', 'a dictionary range lies outside the image');
  const parts: Uint8Array[] = [];
  const close = <B extends { readonly id: number; readonly bytes: BlockBytes }>(b: B): B => {
    if (!seal(b.id)) return b;
    if (b.bytes.kind === 'delta') return { ...b, bytes: { ...b.bytes, ops: sealOps(b.bytes, parts) } };
    if (b.bytes.kind !== 'literal' || b.bytes.bytes.length === 0) return b;
    parts.push(b.bytes.bytes);
    return { ...b, bytes: { kind: 'sealed', length: b.bytes.bytes.length } };
  };
  const codeBlocks = pkg.codeBlocks.map(close);
  const dataBlocks = pkg.dataBlocks.map(close);
  if (parts.length === 0) return ok(pkg);
  const content = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (content.set(p, at), at + p.length), 0);
  const frame = await compressZstdWithDictionary(content, dict);
  if (!frame.ok) return frame;
  const sealed: HotpatchPackage = { ...pkg, codeBlocks, dataBlocks, sealed: { dictionary, frame: frame.value } };
  const back = unsealPackage(sealed, image);
  if (!back.ok) return back;
  const was = [...pkg.codeBlocks, ...pkg.dataBlocks];
  if (![...back.value.codeBlocks, ...back.value.dataBlocks].every((b, i) => sameBytes(b.bytes, was[i]!.bytes))) return err('PKG_ZSTD', 'the sealed frame does not decode to the bytes it was made of');
  return ok(sealed);
}

function isSealedOp(op: StoredOp): boolean {
  return op.kind === 'sealed-literal' || op.kind === 'sealed-add';
}

/** The delta's ops with each literal and add op sealed (its bytes pushed to `parts`). */
function sealOps(d: Extract<BlockBytes, { kind: 'delta' }>, parts: Uint8Array[]): StoredOp[] {
  return d.ops.map((op): StoredOp => {
    if (op.kind === 'copy' || op.kind === 'sealed-literal' || op.kind === 'sealed-add' || op.bytes.length === 0) return op;
    parts.push(op.bytes);
    return op.kind === 'literal' ? { kind: 'sealed-literal', length: op.bytes.length } : { kind: 'sealed-add', offset: op.offset, length: op.bytes.length };
  });
}

/** The same bytes (literal blocks, and delta ops), as sealPackageWith's round trip checks. */
function sameBytes(a: BlockBytes, b: BlockBytes): boolean {
  const eq = (x: Uint8Array, y: Uint8Array): boolean => x.length === y.length && x.every((v, k) => v === y[k]);
  if (a.kind === 'literal' && b.kind === 'literal') return eq(a.bytes, b.bytes);
  if (a.kind === 'delta' && b.kind === 'delta') {
    return a.ops.length === b.ops.length && a.ops.every((op, i) => {
      const o = b.ops[i]!;
      if (op.kind === 'copy' || o.kind === 'copy') return op.kind === o.kind;
      return (op.kind === 'literal' || op.kind === 'add') && op.kind === o.kind && eq(op.bytes, (o as { bytes: Uint8Array }).bytes) && (op.kind === 'literal' || op.offset === (o as { offset: number }).offset);
    });
  }
  return a.kind === b.kind;
}
