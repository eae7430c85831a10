/**
 * Whether two function bodies look like one function changed: the evidence a pair made by
 * position (neighbours in a one-function gap, slots between ordered anchors) or by a call
 * site's index must bring when the two shapes differ.
 *
 * A matched pair is a redirect: every caller and thread that reaches the OLD function runs
 * the NEW one. Two unrelated functions paired (ast-grep 0.51.2 -> 0.51.3: a 43-instruction
 * thread-local initialiser that has no counterpart left, paired with a 308-instruction
 * hash-table rehash that sits in its slot) make a patch that behaves like neither build.
 *
 * The measure is BinDiff's and Diaphora's cheapest: the Dice coefficient of the two
 * instruction streams' mnemonic bigrams (each instruction as its opcode bytes, with the
 * ModRM reg field of group opcodes: `add` and `cmp` are not one token), counted as
 * multisets. It is linear in the two bodies and computed only for the candidate pairs
 * whose shapes differ. Dice is at most 2 / (1 + size ratio), so it bounds the size ratio too.
 *
 * Dice alone misses a body that grew around the old one (inlined code added): the share of the smaller body's bigrams found in the
 * larger (containment) says it, when the sizes stay within CONTAINED_RATIO and the smaller
 * body is not a few instructions that any function contains.
 *
 * Short bodies (a few instructions) pass when their sizes stay close: the measure says
 * nothing there, and the samples' one-line changes of 2-instruction functions must pair.
 *
 * Thresholds (measured on the corpus: scripts/refused-ab.ts and test/compiler-real.test.ts):
 * a pair with no evidence but its position needs POSITION_MIN; a pair at the same call-site
 * index of a matched caller (or the same vtable slot) has that evidence and needs only
 * EVIDENCE_MIN, or sizes within EVIDENCE_RATIO: true pairs whose inlined helpers were
 * rewritten (a memcmp call unrolled into xor/or compares, same instruction count) stay paired.
 */
import type { FunctionInfo } from '../image/types.ts';
import type { ImageAnalysis } from './analyze-image.ts';

/** Dice a pair made by position alone must reach. */
const POSITION_MIN = 0.3;
/** Dice a pair made at a matched caller's call-site index (or vtable slot) must reach... */
const EVIDENCE_MIN = 0.15;
/** ...unless the instruction counts are within this ratio. */
const EVIDENCE_RATIO = 1.5;
/** Containment that shows the smaller body inside the larger... */
const CONTAINED_MIN = 0.6;
/** ...when the instruction counts are within this ratio... */
const CONTAINED_RATIO = 4;
/** ...and the smaller body has at least this many instructions. */
const CONTAINED_INSNS = 8;
/**
 * Bodies this short carry too few bigrams to measure (`xor eax,eax; ret` -> `mov eax,2;
 * ret`): both at most this many instructions and within SMALL_RATIO pass.
 */
const SMALL_INSNS = 16;
const SMALL_RATIO = 2;

/** What else supports a pair: nothing but position, or a call-site index / vtable slot. */
export type PairEvidence = 'position' | 'site';

/** Legacy prefixes skipped before the opcode (operand/address size, lock, rep, segments). */
const PREFIXES = new Set([0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x2e, 0x3e, 0x26, 0x64, 0x65, 0x36]);
/** One-byte opcodes whose ModRM reg field selects the operation (group 1, 2, 3, 4/5, 11). */
const GROUPS = new Set([0x80, 0x81, 0x83, 0xc0, 0xc1, 0xc6, 0xc7, 0xd0, 0xd1, 0xd2, 0xd3, 0xf6, 0xf7, 0xfe, 0xff]);

/** A mnemonic-like token of the instruction at `at` (length `len`) in `b`. */
export function opcodeToken(b: Uint8Array, at: number, len: number): number {
  const end = at + len;
  let p = at;
  while (p < end && PREFIXES.has(b[p]!)) p++;
  if (p < end && (b[p]! & 0xf0) === 0x40) p++;
  if (p >= end) return 0;
  const op = b[p]!;
  if (op === 0x0f && p + 1 < end) {
    const op2 = b[p + 1]!;
    if ((op2 === 0x38 || op2 === 0x3a) && p + 2 < end) return 0x10000 | (op2 << 8) | b[p + 2]!;
    return 0x100 | op2;
  }
  // VEX: the map (low 5 bits of C4's first payload byte; C5 is map 1) and the opcode.
  if (op === 0xc4 && p + 3 < end) return 0x20000 | ((b[p + 1]! & 0x1f) << 8) | b[p + 3]!;
  if (op === 0xc5 && p + 2 < end) return 0x20100 | b[p + 2]!;
  if (GROUPS.has(op) && p + 1 < end) return 0x40000 | (op << 3) | ((b[p + 1]! >> 3) & 7);
  return op;
}

/** Per function of one image, its bigram multiset (memoised: a function is compared a few times at most). */
export class BodyGrams {
  private readonly grams = new Map<number, Map<number, number>>();

  constructor(private readonly a: ImageAnalysis) {}

  /** Bigram -> count, and the number of bigrams. */
  of(f: FunctionInfo): { readonly counts: Map<number, number>; readonly total: number } {
    let m = this.grams.get(f.index);
    if (m === undefined) {
      m = new Map();
      const img = this.a.img.image;
      let prev = -1;
      for (const insn of f.decoded.insns) {
        const t = opcodeToken(img, insn.rva, insn.length);
        // A one-instruction body still has one gram (its token after the start).
        const g = prev * 0x80000 + t;
        m.set(g, (m.get(g) ?? 0) + 1);
        prev = t;
      }
      this.grams.set(f.index, m);
    }
    return { counts: m, total: f.decoded.insns.length };
  }
}

/**
 * Whether OLD `o` and NEW `n` look like one function changed, given what else supports the
 * pair (see the file comment for the measures and thresholds).
 */
export function relatedBodies(oldGrams: BodyGrams, o: FunctionInfo, newGrams: BodyGrams, n: FunctionInfo, evidence: PairEvidence): boolean {
  const a = oldGrams.of(o);
  const b = newGrams.of(n);
  const lo = Math.min(a.total, b.total);
  const hi = Math.max(a.total, b.total);
  if (hi === 0) return true;
  const ratio = lo === 0 ? Infinity : hi / lo;
  if (evidence === 'site' && ratio <= EVIDENCE_RATIO) return true;
  if (hi <= SMALL_INSNS && ratio <= SMALL_RATIO) return true;
  const [small, big] = a.counts.size <= b.counts.size ? [a.counts, b.counts] : [b.counts, a.counts];
  let common = 0;
  for (const [g, c] of small) common += Math.min(c, big.get(g) ?? 0);
  const dice = (2 * common) / (a.total + b.total);
  if (dice >= (evidence === 'site' ? EVIDENCE_MIN : POSITION_MIN)) return true;
  return lo >= CONTAINED_INSNS && ratio <= CONTAINED_RATIO && common / lo >= CONTAINED_MIN;
}
