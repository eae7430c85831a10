/**
 * The complete package of a pair the compiler refuses in part, as an estimate of what a full
 * update would carry as a hotpatch: every function the diff calls changed or added, refused or
 * not, emitted the way a hotpatchable one is (code blocks, fixups, deltas, unwind, data blocks,
 * redirects, identity), then signed. It is never verified and never applied: a refused change
 * is refused because no package for it is proven safe. Its size is what the partial
 * (--skip-refused) package leaves out, made comparable with the floor, which counts every
 * changed and added function too.
 *
 * Functions whose emission fails even so (a reference the emitter cannot resolve) are carried
 * literally, as their NEW bytes with no fixups: counted, never hidden. So are functions whose
 * bytes the analysis decoded as overlapping instructions (refused CODE_NOT_UNDERSTOOD): their
 * decoded references are not the code's, and two decodes sharing one field gave two fixups on
 * it (lcss 1.30.2 0x2b74b0, a jump table read past its end: PKG_INVALID, overlapping fixups). Writable data changes stay
 * out (no hotpatch carries writable data; the floor counts them).
 */
import type { FunctionChange, ImageDiff } from '../compiler/index.ts';
import { readFileSync } from 'node:fs';
import { buildFromDiff, COMPILER_VERSION, diffFiles, emitPackage, sealBuilt, sealPackage } from '../compiler/index.ts';
import type { BenchPair } from './pairs.ts';
import { encodePackage } from '../formats/container.ts';
import type { CodeBlock, HotpatchPackage } from '../formats/package.ts';
import type { SigningKey } from '../formats/keys.ts';

/** A complete package's size and how it was made. */
export interface CompletePackage {
  /** The signed file's bytes. */
  readonly bytes: number;
  readonly functions: number;
  /** Functions the diff refuses that the estimate emits anyway. */
  readonly forced: number;
  /** Functions carried as literal NEW bytes: emission could not resolve them, or their code was not understood. */
  readonly literal: number;
  /** Why emission left something out (the literal functions, refused writable data). */
  readonly omitted: readonly string[];
  readonly pkg: HotpatchPackage;
}

/**
 * True when the analysis decoded bytes of `f` as two instructions (CODE_NOT_UNDERSTOOD for
 * overlapping instructions, or a jump table over decoded code): its references are not the
 * code's, and two of them may share one field.
 */
function misdecoded(diff: ImageDiff, f: FunctionChange): boolean {
  if (f.reason?.code !== 'CODE_NOT_UNDERSTOOD' || f.newIndex === null) return false;
  const problems = diff.match.new.fns.functions[f.newIndex]?.decoded.problems ?? [];
  return problems.some((p) => p.startsWith('overlapping instructions') || p.includes('overlaps the instruction'));
}

/**
 * `diff` with every changed or added function hotpatchable (a redirect where none was planned),
 * except those whose bytes were decoded as overlapping instructions (carried literally).
 */
export function forcedDiff(diff: ImageDiff): { diff: ImageDiff; forced: number } {
  let forced = 0;
  const functions = diff.functions.map((f): FunctionChange => {
    if (f.verdict !== 'refused' || misdecoded(diff, f)) return f;
    forced += f.status === 'changed' || f.status === 'added' ? 1 : 0;
    return { ...f, verdict: 'hotpatchable', reason: null, redirect: f.redirect ?? (f.status === 'changed' ? { kind: 'jmp-rel32' } : null) };
  });
  return { diff: { ...diff, functions, hotpatchable: true }, forced };
}

/** Emits, completes and signs the complete package of `diff` (see the module comment). */
export async function completePackage(diff: ImageDiff, moduleName: string, signingKey: SigningKey, seal = true): Promise<CompletePackage | string> {
  const { diff: all, forced } = forcedDiff(diff);
  // skipRefused only leaves out what emission itself cannot carry (and refused writable data).
  const e = emitPackage(all, { moduleName, skipRefused: true, estimateOnly: true, series: null, compilerVersion: 'hotpatch bench' });
  if (!e.ok) return `${e.error.code}: ${e.error.message}`;
  const pkg = e.value.pkg;
  const carried = new Set(e.value.blockOf.keys());
  const img = diff.match.new.img.image;
  const extra: CodeBlock[] = [];
  const carriedEntries = new Set<number>();
  let id = pkg.codeBlocks.length + pkg.dataBlocks.length;
  for (const f of all.functions) {
    if ((f.status !== 'changed' && f.status !== 'added') || f.newIndex === null || carried.has(f.newIndex)) continue;
    const info = diff.match.new.fns.functions[f.newIndex];
    if (info === undefined) continue;
    carriedEntries.add(info.entry);
    const parts = info.ranges.map((r) => img.subarray(r.start, r.end));
    const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((at, p) => (bytes.set(p, at), at + p.length), 0);
    extra.push({ id: id++, alignment: 16, bytes: { kind: 'literal', bytes }, fixups: [], unwind: null });
  }
  // Sealed against OLD (format 2.2) when that is smaller, as `hotpatch build` writes packages.
  const unsealed: HotpatchPackage = { ...pkg, codeBlocks: [...pkg.codeBlocks, ...extra], producer: fullUpdateProducer(pkg, carriedEntries) };
  const sealed = seal ? await sealPackage(diff.match.old.img, unsealed, e.value.literalForms === undefined ? {} : { literalForms: e.value.literalForms }) : null;
  if (sealed !== null && !sealed.ok) return `${sealed.error.code}: ${sealed.error.message}`;
  const complete: HotpatchPackage = sealed?.value ?? unsealed;
  const enc = await encodePackage(complete, { signingKey });
  if (!enc.ok) return `${enc.error.code}: ${enc.error.message}`;
  return { bytes: enc.value.length, functions: complete.functions.length + extra.length, forced, literal: extra.length, omitted: e.value.omitted.map((o) => `${o.what}: ${o.reason}`), pkg: complete };
}

/**
 * The producer a full update's package states, as `hotpatch build` writes it when nothing is
 * refused: the compiler's version (packed into one varint, FORMAT.md "Producer"; the emission
 * above was asked for a free-form string), no `skip-refused` (the estimate carries every
 * change), and no `left-out-new-rvas` for the functions it carries literally after all (a
 * left-out function it does not carry stays listed). The package is otherwise what emission
 * gave; these parameters only described how the estimate was made, and cost it about 150
 * compressed bytes on watcher 2.5.0 -> 2.5.1 (26 RVAs listed as left out, all carried).
 */
function fullUpdateProducer(pkg: HotpatchPackage, carried: ReadonlySet<number>): HotpatchPackage['producer'] {
  const parameters = pkg.producer.parameters.flatMap((p) => {
    if (p.key === 'skip-refused') return [];
    if (p.key !== 'left-out-new-rvas') return [p];
    const still = p.value.split(',').filter((x) => x !== '' && !carried.has(Number(x)));
    return still.length === 0 ? [] : [{ key: p.key, value: still.join(',') }];
  });
  return { compilerVersion: COMPILER_VERSION, parameters };
}

/**
 * The package the size scripts (bench/size-breakdown.ts, bench/seal-sizes.ts) study for
 * `pair`: the verified build when the compiler takes every change, else the complete package
 * (`note` says so); sealed against OLD when that is smaller (as `hotpatch build` writes it)
 * when `seal`, else in the 2.1 form. A string when the pair does not build.
 */
export async function pairPackage(pair: BenchPair, signingKey: SigningKey, seal: boolean): Promise<{ diff: ImageDiff; pkg: HotpatchPackage; note: string | null } | string> {
  const d = diffFiles(new Uint8Array(readFileSync(pair.oldPath)), new Uint8Array(readFileSync(pair.newPath)));
  if (!d.ok) return d.error.code;
  if (d.value.hotpatchable) {
    const b = buildFromDiff(d.value, { moduleName: pair.moduleName, skipRefused: false, series: null, compilerVersion: COMPILER_VERSION });
    if (!b.ok) return `${b.error.code} ${b.error.message.slice(0, 200)}`;
    const s = seal ? await sealBuilt(b.value) : b;
    if (!s.ok) return `${s.error.code} ${s.error.message.slice(0, 200)}`;
    return { diff: d.value, pkg: s.value.emitted.pkg, note: null };
  }
  const c = await completePackage(d.value, pair.moduleName, signingKey, seal);
  if (typeof c === 'string') return c.slice(0, 200);
  return { diff: d.value, pkg: c.pkg, note: `complete package (${c.forced} refused changes emitted, ${c.literal} functions carried literally)` };
}
