/**
 * Referenced-name evidence for function pairing. Two functions whose shapes are equal (same
 * code, every reference just "a global", "a function") may still be different functions when
 * what they reference has an identity of its own in both builds: the std::function
 * `target_type` accessors MSVC emits per lambda are each `lea rax, [TypeDescriptor]; ret`,
 * one per wrapped type, laid out in the order of the types' decorated names. couchbase 4.6.0
 * -> 4.7.0 inserts lambdas, so pairing them by order or by neighbours lands one off: old
 * 0x4f47d0 (returns `wrapper<lambda_0064d462...>`) beside new 0x576fe0 (returns
 * `lambda_00525aa6...`) while new 0x576ff0 returns `lambda_0064d462...`. A redirect there
 * makes an old wrapper report another lambda's type_info.
 *
 * The `named` form (normalise.ts: `shape` with TypeDescriptors named by their type name)
 * pairs such functions by what they reference (unique named forms first), the propagation
 * compares named forms where they are evidence (pairingKeys), and a pairing is vetoed when
 * either one's named form (one that references a named item) occurs on the other side in
 * another function: that one is its counterpart, not this. Pairs by symbol name and the entry
 * point are not vetoed (stronger evidence of their own).
 */

import type { FunctionInfo } from '../image/types.ts';
import { typeDescriptorName } from '../image/type-descriptors.ts';
import type { ImageAnalysis } from './analyze-image.ts';

/** The named and shape hashes of every function of both images. */
export interface NamedShapes {
  readonly oldShape: readonly string[];
  readonly newShape: readonly string[];
  readonly oldNamed: readonly string[];
  readonly newNamed: readonly string[];
}

/** Whether pairing OLD function `o` with NEW function `n` contradicts referenced-name evidence. */
export type NameVeto = (o: number, n: number) => boolean;

/** Named forms (those that name an item) of one side's functions. */
function namedForms(shape: readonly string[], named: readonly string[]): Set<string> {
  const out = new Set<string>();
  named.forEach((h, i) => {
    if (h !== shape[i]) out.add(h);
  });
  return out;
}

/** The veto over one pair of images (see the module comment). */
export function nameVeto(s: NamedShapes): NameVeto {
  const oldNames = namedForms(s.oldShape, s.oldNamed);
  const newNames = namedForms(s.newShape, s.newNamed);
  return (o, n) => {
    const on = s.oldNamed[o]!;
    const nn = s.newNamed[n]!;
    if (on === nn) return false;
    return (on !== s.oldShape[o] && newNames.has(on)) || (nn !== s.newShape[n] && oldNames.has(nn));
  };
}

/**
 * Per function, the key the propagation compares (neighbours, call lists, order runs): its
 * named hash when that named form occurs on the other side too (the names it references are
 * evidence of its counterpart), else its shape hash. A descriptor name only one build has
 * (MSVC names lambdas by a hash that changes with their translation unit: couchbase 4.6.0 ->
 * 4.7.0 keeps 431 of 1183 lambda names) is no evidence either way, and such look-alikes pair
 * by shape as before.
 */
export function pairingKeys(s: NamedShapes): { readonly oldKey: readonly string[]; readonly newKey: readonly string[] } {
  const oldNames = namedForms(s.oldShape, s.oldNamed);
  const newNames = namedForms(s.newShape, s.newNamed);
  const keys = (shape: readonly string[], named: readonly string[], other: ReadonlySet<string>): string[] => shape.map((h, i) => (named[i] !== h && other.has(named[i]!) ? named[i]! : h));
  return { oldKey: keys(s.oldShape, s.oldNamed, newNames), newKey: keys(s.newShape, s.newNamed, oldNames) };
}

/** A lambda's name in a decorated type name: MSVC's hash of it changes with its translation unit. */
const LAMBDA_NAME = /<lambda_[0-9a-f]{32}>/g;

/**
 * The family of the TypeDescriptors function `f` references directly: their decorated names
 * with every lambda's hash masked (`.?AU?$wrapper@V<lambda>@@X@?$movable_function@...`), or
 * null when it references none.
 */
function descriptorFamily(a: ImageAnalysis, f: FunctionInfo): string | null {
  const names: string[] = [];
  for (const r of f.decoded.refs) {
    if (r.isBranch) continue;
    const d = a.itemAt(r.target);
    const name = d !== undefined && d.writable ? typeDescriptorName(a.img, d.start, d.end) : null;
    if (name !== null) names.push(name.replace(LAMBDA_NAME, '<lambda>'));
  }
  return names.length === 0 ? null : names.join('\u0100');
}

/** What the leftover pass reads of the match being built. */
export interface LeftoverView extends NamedShapes {
  readonly oldA: ImageAnalysis;
  readonly newA: ImageAnalysis;
  readonly fnOldToNew: Int32Array;
  readonly fnNewToOld: Int32Array;
  readonly oldKey: readonly string[];
  readonly newKey: readonly string[];
}

/**
 * Last resort, once nothing else pairs: unmatched look-alikes that reference descriptors whose
 * names only one build has (no evidence either way: pairingKeys), with the same shape and the
 * same descriptor family (lambda hashes masked), pair in address order. Pairing the ones with
 * evidence by name first leaves their old neighbours' slots taken (couchbase 4.6.0 -> 4.7.0:
 * 8 old `target_type` accessors between two named pairs, none new); the shape, family and
 * the descriptors they reference (paired through them, by position, as before) keep them
 * unchanged. `pair(o, n)` records a pair. Returns the number of new pairs.
 */
export function pairLookalikeLeftovers(v: LeftoverView, pair: (o: number, n: number) => boolean): number {
  const buckets = (a: ImageAnalysis, used: Int32Array, shape: readonly string[], named: readonly string[], key: readonly string[]): Map<string, number[]> => {
    const out = new Map<string, number[]>();
    for (let i = 0; i < used.length; i++) {
      if (used[i] !== -1 || named[i] === shape[i] || key[i] !== shape[i]) continue;
      const family = descriptorFamily(a, a.fns.functions[i]!);
      if (family === null) continue;
      const k = `${shape[i]!}\u0101${family}`;
      const list = out.get(k);
      if (list === undefined) out.set(k, [i]);
      else list.push(i);
    }
    return out;
  };
  const olds = buckets(v.oldA, v.fnOldToNew, v.oldShape, v.oldNamed, v.oldKey);
  const news = buckets(v.newA, v.fnNewToOld, v.newShape, v.newNamed, v.newKey);
  let made = 0;
  for (const [k, ns] of news) {
    const os = olds.get(k);
    if (os === undefined) continue;
    for (let j = 0; j < Math.min(os.length, ns.length); j++) if (pair(os[j]!, ns[j]!)) made++;
  }
  return made;
}
