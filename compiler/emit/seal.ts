/**
 * Sealing (format 2.2, formats/FORMAT.md "Sealed bytes"): the literal bytes of the package's
 * blocks, and of its delta blocks' literal and add ops, go into one zstd frame compressed with OLD's own bytes as a raw-content dictionary.
 * New code repeats much of the code it replaces (the same helpers inlined, the same
 * prologues, constants and call sequences), which a frame with no history cannot use.
 *
 * Which OLD bytes: zstd-codec's 16 MiB heap bounds a level-19 dictionary (ZSTD_MAX_DICTIONARY),
 * so not all of OLD's code. The literal bytes' 16-byte shingles are hashed (1 in 8, chosen by
 * hash value so OLD and the new bytes keep the same ones); each 4 KiB run of
 * OLD's stable code and read-only data (compiler/image/stable-ranges.ts: never a writable
 * section, an IAT slot or a loader-written pointer; the runtime hashes these bytes in a
 * running process) is scored by the shingles it holds that no run chosen before holds
 * (greedy cover), and the best runs are taken up to the budget. Their ranges join the relied
 * ranges, so the runtime checks every dictionary byte with the relied hash before the frame
 * is decoded. The package is sealed only when the file gets smaller.
 */
import { err, ok, type Result } from '../../common/errors.ts';
import { asRva } from '../../common/types.ts';
import { encodePackage } from '../../formats/container.ts';
import type { HotpatchPackage, RvaRange } from '../../formats/package.ts';
import { gather } from '../../formats/delta-index.ts';
import { FIXUP_WIDTH } from '../../formats/validate.ts';
import { sealPackageWith } from '../../formats/seal.ts';
import { ZSTD_MAX_DICTIONARY, ZSTD_MAX_DICTIONARY_CONTENT } from '../../formats/zstd.ts';
import { checkStableRelied, subtractUnstable, unstableRanges } from '../image/stable-ranges.ts';
import type { MappedImage } from '../image/map-image.ts';
import { coverRedirects } from './covered-redirects.ts';
import { identityOf } from './identity.ts';
import { withLiteralScans } from './literal-scans.ts';
import type { EmittedPackage, LiteralForm } from './types.ts';

/** Shingle length: long enough that a hit is a real shared sequence, short enough to find short ones. */
const SHINGLE = 16;
/**
 * Shingles kept: those whose hash is 0 modulo SAMPLE_MASK + 1 (content-defined sampling).
 * Measured (bench/seal-sizes.ts, one run): keeping 1 in 8 instead of all took sealing of
 * lightningcss 1.29.1 -> 1.29.2 from 1,748 to 296 ms for 106 more bytes (24,643 -> 24,749),
 * watcher 2.5.0 -> 2.5.1 59,739 -> 59,709, sharp 0.34.4 -> 0.34.5 19,071 -> 19,040.
 */
const SAMPLE_MASK = 7;
/**
 * Dictionary runs: OLD is scored and taken in runs of this many bytes. The first size always;
 * when the budget cut its dictionary short, the others too, each with its own literal-form
 * trials, and the smallest file is kept (sealPackage). A dictionary the budget cuts short
 * holds more of what the literal bytes share in smaller runs, but the sampled shingles score
 * a small run by fewer hits, so neither size wins everywhere. Measured (bench/complete-sizes.ts,
 * one run each): 2048 alone took watcher 2.5.0 -> 2.5.1 48,017 -> 47,492 bytes (1024: 47,712;
 * 1536: 47,574; 3072: 47,862) but sharp 0.34.3 -> 0.34.4 12,871 -> 13,075 and the samples
 * 26,202 -> 26,257 bytes; resealing only the trials' final package at 2048 gave watcher 47,845.
 */
const RUNS = [4096, 2048] as const;
/** Literal bytes below this are not worth a frame (its header and the dictionary ranges cost more). */
const MIN_SEALED = 256;
/** A run must add at least this many new (sampled) shingles to be taken: 16 of all shingles. */
const MIN_GAIN = 2;

/** Options of sealPackage. */
export interface SealOptions {
  /** How much OLD to use as the dictionary (bytes, at most ZSTD_MAX_DICTIONARY). */
  readonly dictionaryBudget?: number;
  /** Seal whenever a dictionary is found, even when the file does not get smaller (tests). */
  readonly force?: boolean;
  /** Delta blocks that may seal smaller literal (EmittedPackage literalForms; see sealPackage). */
  readonly literalForms?: readonly LiteralForm[];
}

/** A rolling polynomial hash of every SHINGLE-byte window of `b`, skipping one-byte runs (padding). */
function shingles(b: Uint8Array, each: (hash: number, at: number) => void): void {
  if (b.length < SHINGLE) return;
  const M = 0x01000193;
  let pow = 1;
  for (let i = 0; i < SHINGLE - 1; i++) pow = Math.imul(pow, M);
  let h = 0;
  let same = 0;
  for (let i = 0; i < b.length; i++) {
    if (i >= SHINGLE) h = (h - Math.imul(b[i - SHINGLE]! + 1, pow)) | 0;
    h = (Math.imul(h, M) + b[i]! + 1) | 0;
    same = i > 0 && b[i] === b[i - 1] ? same + 1 : 0;
    // Only shingles whose hash has its low SAMPLE bits clear: chosen by content, so the same
    // ones are kept on both sides, and OLD's megabytes cost a set lookup per 2^SAMPLE bytes.
    if (i >= SHINGLE - 1 && same < SHINGLE - 1 && (h & SAMPLE_MASK) === 0) each(h, i - SHINGLE + 1);
  }
}

/** IMAGE_SCN_MEM_DISCARDABLE: .reloc and the like, which a loader need not keep mapped. */
const SCN_DISCARDABLE = 0x0200_0000;

/** OLD's candidate dictionary runs: RUN-byte pieces of stable code and read-only data (file-backed, not discardable). */
function candidateRuns(img: MappedImage, run: number): Array<[number, number]> {
  const kept = img.sections.filter((s) => !s.writable && s.rawSize > 0 && (s.characteristics & SCN_DISCARDABLE) === 0);
  const spans: Array<[number, number]> = kept.map((s) => [s.rva, s.rva + Math.min(s.size, s.rawSize)]);
  const out: Array<[number, number]> = [];
  for (const [s, e] of subtractUnstable(spans, unstableRanges(img))) for (let a = s; a < e; a += run) out.push([a, Math.min(e, a + run)]);
  return out;
}

/**
 * The dictionary ranges for `content` in OLD (sorted, merged, at most `budget` bytes): the
 * `run`-byte runs that cover the most of its shingles, greedily (see the module comment).
 */
export function chooseDictionary(img: MappedImage, content: Uint8Array, budget: number, minGain = MIN_GAIN, run: number = RUNS[0]): RvaRange[] {
  const wanted = new Set<number>();
  shingles(content, (h) => wanted.add(h));
  const runs = candidateRuns(img, run);
  const hits: Array<Set<number>> = runs.map(([s, e]) => {
    const got = new Set<number>();
    shingles(img.image.subarray(s, e), (h) => {
      if (wanted.has(h)) got.add(h);
    });
    return got;
  });
  const covered = new Set<number>();
  const chosen: Array<[number, number]> = [];
  let used = 0;
  // Lazy greedy: a run's gain only shrinks as others are taken, so a stale score is an upper bound.
  const order = runs.map((_, i) => ({ i, gain: hits[i]!.size })).filter((x) => x.gain >= minGain);
  while (order.length > 0 && used < budget) {
    order.sort((a, b) => b.gain - a.gain || a.i - b.i);
    const top = order[0]!;
    let gain = 0;
    for (const h of hits[top.i]!) if (!covered.has(h)) gain++;
    if (gain !== top.gain) {
      top.gain = gain;
      if (gain < minGain) order.shift();
      continue;
    }
    order.shift();
    const [s, e] = runs[top.i]!;
    if (used + (e - s) > budget) continue;
    for (const h of hits[top.i]!) covered.add(h);
    chosen.push([s, e]);
    used += e - s;
  }
  chosen.sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [s, e] of chosen) {
    const last = merged[merged.length - 1];
    if (last !== undefined && last[1] === s) last[1] = e;
    else merged.push([s, e]);
  }
  return merged.map(([s, e]) => ({ rva: asRva(s), length: e - s }));
}

/** Context bytes before a fixup field that fillFixupFields looks up in the dictionary. */
const CONTEXT = 8;

/**
 * `pkg` with the fixup fields of its literal blocks holding bytes that continue a match in
 * the dictionary: for each field, the CONTEXT bytes before it are looked up in the
 * dictionary, and the field takes the bytes that follow them there. The runtime (and the
 * paper image) overwrite every fixup field, so what a field holds in the package is free; a
 * field that continues the match costs zstd nothing, where NEW's displacement would end it.
 */
export function fillFixupFields(pkg: HotpatchPackage, dict: Uint8Array): HotpatchPackage {
  const key = (b: Uint8Array, at: number): number => {
    let h = 0;
    for (let i = 0; i < CONTEXT; i++) h = (Math.imul(h, 0x01000193) + b[at + i]! + 1) | 0;
    return h;
  };
  const where = new Map<number, number>();
  for (let i = 0; i + CONTEXT + 8 <= dict.length; i++) {
    const k = key(dict, i);
    if (!where.has(k)) where.set(k, i);
  }
  const fill = <B extends { readonly bytes: HotpatchPackage['codeBlocks'][number]['bytes']; readonly fixups: HotpatchPackage['codeBlocks'][number]['fixups'] }>(b: B): B => {
    if (b.bytes.kind !== 'literal' || b.fixups.length === 0) return b;
    const bytes = b.bytes.bytes.slice();
    for (const f of [...b.fixups].sort((x, y) => x.offset - y.offset)) {
      const w = FIXUP_WIDTH[f.kind];
      if (f.offset < CONTEXT || f.offset + w > bytes.length) continue;
      const at = where.get(key(bytes, f.offset - CONTEXT));
      if (at === undefined || !bytes.subarray(f.offset - CONTEXT, f.offset).every((x, i) => x === dict[at + i])) continue;
      bytes.set(dict.subarray(at + CONTEXT, at + CONTEXT + w), f.offset);
    }
    return { ...b, bytes: { kind: 'literal', bytes } };
  };
  return { ...pkg, codeBlocks: pkg.codeBlocks.map(fill), dataBlocks: pkg.dataBlocks.map(fill) };
}

/** A package and its unsigned file size (the signature adds the same 64 bytes to every form). */
interface Sized {
  readonly pkg: HotpatchPackage;
  readonly size: number;
}

/**
 * `pkg` sealed against `dictionary` with its fixup fields as emitted and as fillFixupFields
 * fills them: the smaller file. Measured (bench/seal-sizes.ts, one run): filling took
 * lightningcss 1.29.1 -> 1.29.2 24,749 -> 24,583 bytes and watcher 2.5.0 -> 2.5.1 59,709 ->
 * 59,578, but sharp 0.34.4 -> 0.34.5 19,040 -> 19,050, hence both.
 */
async function smallerSealed(pkg: HotpatchPackage, image: Uint8Array, dictionary: readonly RvaRange[]): Promise<Result<Sized>> {
  const plain = await sized(await sealPackageWith(pkg, image, dictionary, () => true));
  const dict = gather(image, dictionary);
  if (!plain.ok || dict === null) return plain;
  const filled = await sized(await sealPackageWith(fillFixupFields(pkg, dict), image, dictionary, () => true));
  // Whole files compared: the payload's own frame compresses the two sealed frames differently.
  return filled.ok && filled.value.size < plain.value.size ? filled : plain;
}

/** A sealing result with its file size. */
async function sized(r: Result<HotpatchPackage>): Promise<Result<Sized>> {
  if (!r.ok) return r;
  const e = await encodePackage(r.value);
  return e.ok ? ok({ pkg: r.value, size: e.value.length }) : e;
}

/** Unsigned file size of `pkg` as encodePackage writes it. */
async function fileSize(pkg: HotpatchPackage): Promise<Result<number>> {
  const e = await encodePackage(pkg);
  return e.ok ? ok(e.value.length) : e;
}

/** Share bands of SealOptions.literalForms, tried literal one band at a time (highest share first). */
const LITERAL_BANDS = [0.7, 0.6, 0.5, 0.4] as const;
/** Sealings that try LITERAL_BANDS and the halves of those that lost, at most. */
const MAX_TRIALS = 8;
/**
 * Bands of deltas that paid more (share 0.1 to 0.4, deltas.ts CLOSE_SHARE), tried after the
 * MAX_TRIALS trials above (so those run as they did without them, and no file grows), ahead of
 * any halves still waiting, within MAX_LOW_TRIALS more sealings.
 */
const LOW_BANDS = [0.3, 0.2, 0.1] as const;
const MAX_LOW_TRIALS = 4;

/**
 * `pkg` (emitted from OLD, `img`) with its literal block bytes sealed against OLD (see the
 * module comment), or `pkg` itself when that does not make the file smaller (or there is too
 * little to seal). Every block decodes back to exactly its bytes (formats/seal.ts checks by
 * unsealing), and the relied ranges gain only stable bytes (checkStableRelied again).
 *
 * With `opts.literalForms` (delta blocks whose delta barely paid, compiler/emit/deltas.ts
 * CLOSE_SHARE): sealed, a literal often costs less than its share says, but not always (one
 * share for every block was not monotone), so the blocks of each share band (LITERAL_BANDS,
 * highest first) are tried literal on top of what was kept so far, and kept when the sealed
 * file gets smaller; a band that loses is tried again as two halves after the bands. At most
 * MAX_TRIALS more sealings like the first (at most four zstd frames each: with and without
 * literal scans, fields as emitted and filled). Measured
 * (bench/complete-sizes.ts, one run): watcher 2.5.0 -> 2.5.1 49,710 -> 48,136 bytes, bufferutil
 * 4.0.8 -> 4.0.9 23,382 -> 21,530, lightningcss 1.29.1 -> 1.29.2 15,119 -> 14,686. All of
 * this once per dictionary run size (RUNS) when the first size's dictionary filled the budget.
 */
export async function sealPackage(img: MappedImage, pkg: HotpatchPackage, opts: SealOptions = {}): Promise<Result<HotpatchPackage>> {
  const budget = Math.min(opts.dictionaryBudget ?? ZSTD_MAX_DICTIONARY, ZSTD_MAX_DICTIONARY);
  const first = await sealTrials(img, pkg, opts, RUNS[0]);
  if (!first.ok) return first;
  let best = first.value;
  // Smaller runs only where the budget cut the dictionary short (otherwise they hold less of it).
  const used = (best.pkg.sealed?.dictionary ?? []).reduce((n, r) => n + r.length, 0);
  if (used + RUNS[0] <= budget) return ok(best.pkg);
  for (const run of RUNS.slice(1)) {
    const s = await sealTrials(img, pkg, opts, run);
    if (s.ok && s.value.size < best.size) best = s.value;
  }
  return ok(best.pkg);
}

/** sealPackage with one dictionary run size: the first sealing, then the literal-form trials. */
async function sealTrials(img: MappedImage, pkg: HotpatchPackage, opts: SealOptions, run: number): Promise<Result<Sized>> {
  const first = await smallestSeal(img, pkg, opts, run);
  if (!first.ok) return first;
  let best = first.value;
  let current = pkg;
  const forms = [...(opts.literalForms ?? [])].sort((a, b) => b.share - a.share);
  const bands = [...LITERAL_BANDS, ...LOW_BANDS].map((low, i, all) => forms.filter((f) => f.share >= low && f.share < (all[i - 1] ?? Infinity)));
  const queue = bands.slice(0, LITERAL_BANDS.length).filter((g) => g.length > 0);
  const lowBands = bands.slice(LITERAL_BANDS.length).filter((g) => g.length > 0);
  for (let trials = 0; trials < MAX_TRIALS + MAX_LOW_TRIALS && (queue.length > 0 || lowBands.length > 0); trials++) {
    if (trials === MAX_TRIALS || queue.length === 0) queue.unshift(...lowBands.splice(0));
    const group = queue.shift()!;
    const trial = withLiteralForms(current, group);
    const s = await smallestSeal(img, trial, opts, run);
    if (s.ok && s.value.size < best.size) {
      best = s.value;
      current = trial;
    } else if (group.length > 1) queue.push(group.slice(0, group.length >> 1), group.slice(group.length >> 1));
  }
  return ok(best);
}

/**
 * `pkg` with the blocks of `forms` stored literal (their bytes and fixups as emitted before
 * delta encoding; the block keeps its id, alignment and unwind). The relied ranges keep their
 * delta bases: more checked OLD bytes, never fewer.
 */
function withLiteralForms(pkg: HotpatchPackage, forms: readonly LiteralForm[]): HotpatchPackage {
  const byId = new Map(forms.map((f) => [f.blockId, f] as const));
  const literal = <B extends HotpatchPackage['codeBlocks'][number] | HotpatchPackage['dataBlocks'][number]>(b: B): B => {
    const f = byId.get(b.id);
    return f === undefined || b.bytes.kind !== 'delta' ? b : { ...b, bytes: { kind: 'literal', bytes: f.bytes }, fixups: f.fixups };
  };
  return { ...pkg, codeBlocks: pkg.codeBlocks.map(literal), dataBlocks: pkg.dataBlocks.map(literal) };
}

/** `pkg` sealed plain and with its literal blocks' references left to the scan (2.9, literal-scans.ts): the smaller file. */
async function smallestSeal(img: MappedImage, pkg: HotpatchPackage, opts: SealOptions, run: number): Promise<Result<Sized>> {
  const scanning = withLiteralScans(img, pkg);
  const plain = await sealPackageOnce(img, pkg, opts, run);
  if (scanning === pkg || !plain.ok) return plain;
  const alt = await sealPackageOnce(img, scanning, opts, run);
  if (!alt.ok) return plain;
  return alt.value.size < plain.value.size ? alt : plain;
}

/** `pkg` sealed (see sealPackage), or `pkg` when that does not make the file smaller, with its file size (computed once). */
async function sealPackageOnce(img: MappedImage, pkg: HotpatchPackage, opts: SealOptions, run: number): Promise<Result<Sized>> {
  const before = await fileSize(pkg);
  if (!before.ok) return before;
  const unsealed: Sized = { pkg, size: before.value };
  // Literal blocks, and the literal and add ops of delta blocks (sealPackageWith seals both).
  const literal = [...pkg.codeBlocks, ...pkg.dataBlocks].flatMap((b) =>
    b.bytes.kind === 'literal' ? [b.bytes.bytes] : b.bytes.kind === 'delta' ? b.bytes.ops.flatMap((op) => (op.kind === 'literal' || op.kind === 'add' ? [op.bytes] : [])) : [],
  );
  const total = literal.reduce((n, b) => n + b.length, 0);
  if ((total < MIN_SEALED && opts.force !== true) || total === 0 || total > ZSTD_MAX_DICTIONARY_CONTENT || pkg.sealed !== undefined) return ok(unsealed);
  const content = new Uint8Array(total);
  literal.reduce((at, b) => (content.set(b, at), at + b.length), 0);
  const dictionary = chooseDictionary(img, content, Math.min(opts.dictionaryBudget ?? ZSTD_MAX_DICTIONARY, ZSTD_MAX_DICTIONARY), opts.force === true ? 1 : MIN_GAIN, run);
  // Forced (tests) with nothing shared: the first run of OLD's code still exercises the form.
  const first = candidateRuns(img, run)[0];
  if (dictionary.length === 0 && opts.force === true && first !== undefined) dictionary.push({ rva: asRva(first[0]), length: first[1] - first[0] });
  if (dictionary.length === 0) return ok(unsealed);
  const relied: Array<[number, number]> = [...pkg.target.reliedRanges.map((r): [number, number] => [r.rva, r.rva + r.length]), ...dictionary.map((r): [number, number] => [r.rva, r.rva + r.length])];
  const widened = coverRedirects({ ...pkg, target: identityOf(img, pkg.target.moduleName, relied) });
  const sealed = await smallerSealed(widened, img.image, dictionary);
  if (!sealed.ok) return sealed.error.code === 'PKG_ZSTD' ? ok(unsealed) : sealed;
  const stable = checkStableRelied(img, sealed.value.pkg);
  if (!stable.ok) return err('BUILD_UNSTABLE_RELIED', `sealing: ${stable.error.message}`);
  if (opts.force === true) return ok(sealed.value);
  return ok(sealed.value.size < unsealed.size ? sealed.value : unsealed);
}

/** The emitted package sealed by sealPackage (the same object when sealing does not pay). */
export async function sealEmitted(img: MappedImage, e: EmittedPackage, opts: SealOptions = {}): Promise<Result<EmittedPackage>> {
  const s = await sealPackage(img, e.pkg, e.literalForms === undefined ? opts : { literalForms: e.literalForms, ...opts });
  if (!s.ok) return s;
  return ok(s.value === e.pkg ? e : { ...e, pkg: s.value });
}
