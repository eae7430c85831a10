/**
 * The readers of a reordered bit-field word. bitfield-layout.ts refuses the WRITER whose
 * store packs a word with other mask and shift constants; the functions that decode that word
 * with new constants are just as wrong on words the old writer packed, yet alone they look
 * like a fix that tests another bit (probe bitfield-flag-fix, hotpatchable). So: when some
 * changed function's bit-field store changed at displacement X, every other changed function
 * whose reads of a word at X (through a register base) are decoded along other paths of mask,
 * shift and weight constants than its old body's (or that decodes X where its old body did not)
 * AND whose new body decodes some bit of X at or above the lowest bit the writers may have
 * moved (bitfield-layout.ts `from`) is refused with the same code, naming that writer. With
 * --skip-refused the readers are then left out with the writer (probe bitfield-reorder:
 * `unpack`). A read-only change with no changed writer at that offset still passes.
 *
 * A read is a load of `[base+X]` into a register (or an in-place `test/bt [base+X],imm`);
 * its paths are the constants applied to the loaded value, in order, by the instructions of
 * the next READ_STEPS (address order, across branches, stopping at a call) that compute from
 * it: mask immediates of and/or/xor/test, shift and bit-test counts, lea scales, and the
 * weights (`lea r,[x+x*4]`, `imul r,x,10`) that tell which decoded field is which. Along the
 * same walk bitfield-bits.ts follows which bits of the word each value carries: a read DECODES
 * bits only where a mask, right shift, bit test or narrowing copy selects part of the word (or
 * an operation with an unknown mask or count touches it). Words are keyed by displacement
 * alone, as the writer's are (the base's type is not known), so two structures with something
 * at one offset couple; the bits narrow that: issue #14, swc-html 1.15.41 -> 1.16.1, a flag
 * byte's writer at +0x28 (bits 3 and up may have moved) coupled 133 functions that read a Vec
 * length at +0x28 whole (`mov rax,[rdi+0x28]; imul rsi,rax,0x68`): they decode no bit and pass
 * (probe bitfield-readers: weight_of; mode_of decodes only bits below the moved ones). A read
 * of the writer's own structure through any pointer (probe bitfield-readers: level_of, through
 * a pointer held in another structure) decodes the moved bits and stays refused.
 * Whole-word packing writers (bitfield-packed.ts: a store that packs the word without reading
 * it) of a changed word are refused with the writer and lower its `from` to 0 (probe
 * bitfield-low-swap).
 * Not seen (before this rule either): a word decoded only by comparing it whole with a packed
 * constant (`cmp dword [rcx],0x1234`: no mask), and a field read at another displacement than
 * its writer's (a byte of a dword).
 */
import { type Instruction, Mnemonic } from 'iced-x86';
import { hex } from '../../common/types.ts';
import type { MappedImage } from '../image/map-image.ts';
import type { FunctionInfo } from '../image/types.ts';
import type { MatchResult } from '../match/match-images.ts';
import { applyBitOp, type BitOp, bitOpOf, type BitValue, inPlaceDecoded, loadedValue, lowBits, mergedValue, memoryBits } from './bitfield-bits.ts';
import { type BitfieldChange, bodySteps, detectBitfieldChanges, REGISTER_WORDS, type Step, type StepMemo, stepOf, type WordOf } from './bitfield-layout.ts';
import { BodyMemo } from './body-memo.ts';
import { onlyInputMasksNarrowed } from './bitfield-narrowed.ts';
import { detectPackedChanges, type PackScans } from './bitfield-packed.ts';
import { reason, type Reason } from './reasons.ts';
import { decodeEach } from './register-effects.ts';
import type { FunctionStatus } from './types.ts';

/** How far after a load its value is followed. */
const READ_STEPS = 24;
/** Longest path (characters) a decoded value carries. */
const MAX_PATH = 160;

/** Per displacement read through a register base, the paths of bit constants that decode it, and the word bits the reads decode. */
export interface ReadScan {
  readonly paths: Map<number, Set<string>>;
  readonly decoded: Map<number, bigint>;
  /** Per displacement, the word bits of each decoding use apart (a field each: bitfield-packed-moves.ts matches them to a packer's fields). */
  readonly fields: Map<number, Set<bigint>>;
}

/**
 * The weight a decoded field is multiplied by (`lea r,[x+x*4]` is x*5, `imul r,x,10`): which
 * field gets which weight is what tells two swapped fields' readers apart.
 */
function weightOf(insn: Instruction): string | null {
  if (insn.mnemonic === Mnemonic.Lea && insn.memoryIndexScale > 1 && insn.memoryBase === insn.memoryIndex) return `times ${insn.memoryIndexScale + 1}`;
  if (insn.mnemonic === Mnemonic.Imul && insn.opCount === 3) return `times ${Number(insn.immediate(2))}`;
  return null;
}

/** An instruction as the forward walk sees it: bitfield-layout.ts' step, the constant a decoded value picks up there, and what it does to the value's bits. */
interface ReadStep {
  readonly step: Step;
  readonly constant: string | null;
  readonly bits: BitOp;
  /** A load's value as it starts (`mov`, `movzx`, `movsx` of an integer word), or null. */
  readonly loaded: BitValue | null;
  /** The bits an in-place read (`test [m],imm`, `bt [m],n`) or a load combined with a register (`and eax,[m]`) decodes at once. */
  readonly atOnce: bigint;
}

const LOADS = new Set<number>([Mnemonic.Mov, Mnemonic.Movzx, Mnemonic.Movsx, Mnemonic.Movsxd]);

function readStepOf(insn: Instruction, word: WordOf | undefined, known: Step | undefined): ReadStep {
  const step = known ?? stepOf(insn, word);
  // A `mov r,imm` is no constant applied to a loaded value (it does not read one).
  const constant = insn.mnemonic === Mnemonic.Mov ? null : (step.constant ?? weightOf(insn));
  const width = step.loadDisp === null ? 0 : memoryBits(insn);
  const loaded = width > 0 && step.writes >= 0 && LOADS.has(insn.mnemonic) ? loadedValue(width) : null;
  // `test [m],imm` decodes its bits; `and eax,[m]` masks the word with a register's bits (all, as far as is known).
  let atOnce = 0n;
  if (step.loadDisp !== null && width > 0) {
    if (step.writes < 0) atOnce = inPlaceDecoded(insn);
    else if (insn.mnemonic === Mnemonic.And || insn.mnemonic === Mnemonic.Test) atOnce = lowBits(width);
  }
  return { step, constant, bits: bitOpOf(insn), loaded, atOnce };
}

/** The scans the bit-field rules keep for one diff (body-memo.ts): each body's steps and its reads per word keys, and its packing inputs. */
export interface BitfieldScans extends PackScans {
  readonly reads: BodyMemo<ReadScan>;
}

/** Empty scans for one diff. */
export function newBitfieldScans(): BitfieldScans {
  return { steps: new BodyMemo(), pack: new BodyMemo(), reads: new BodyMemo() };
}

/** scanReads of body `f` of `image` (words keyed by `word`: register base by default), kept in `scans` when given. */
export function readScanOf(image: Uint8Array, f: FunctionInfo, word: WordOf | undefined, scans: BitfieldScans | undefined): ReadScan {
  if (scans === undefined) return scanReads(image, f.decoded.insns, word);
  return scans.reads.of(word ?? REGISTER_WORDS.old, image, f, () => scanReads(image, f.decoded.insns, word, bodySteps(image, f, word, scans.steps)));
}

/**
 * The reads of a body's instructions (`insns`: their spans in `image`): per displacement (words
 * keyed by `word`: register base by default), their constant paths and the bits they decode.
 * `known`: the body's steps under the same keys, when computed already (bitfield-layout.ts bodySteps).
 */
export function scanReads(image: Uint8Array, insns: ReadonlyArray<{ readonly rva: number; readonly length: number }>, word?: WordOf, known?: readonly Step[]): ReadScan {
  const steps: ReadStep[] = [];
  decodeEach(image, insns, (insn) => {
    steps.push(readStepOf(insn, word, known?.[steps.length]));
  });
  const out: ReadScan = { paths: new Map(), decoded: new Map(), fields: new Map() };
  const add = (disp: number, c: string): void => {
    const set = out.paths.get(disp) ?? new Set<string>();
    set.add(c);
    out.paths.set(disp, set);
  };
  const decode = (disp: number, bits: bigint): void => {
    if (bits === 0n) return;
    out.decoded.set(disp, (out.decoded.get(disp) ?? 0n) | bits);
    out.fields.set(disp, (out.fields.get(disp) ?? new Set<bigint>()).add(bits));
  };
  for (let k = 0; k < steps.length; k++) {
    const s = steps[k]!.step;
    if (s.loadDisp === null || s.loadDisp < 0 || s.store !== null) continue;
    decode(s.loadDisp, steps[k]!.atOnce);
    // `test byte [rcx],8`, `bt dword [rcx],3`: the word's own bit test.
    if (s.writes < 0) {
      if (steps[k]!.constant !== null) add(s.loadDisp, steps[k]!.constant!);
      continue;
    }
    followRead(steps, k, add, decode);
  }
  return out;
}

/**
 * Forward over the uses of the value `steps[k]` loads. Each register holding the value (or one
 * computed from it) carries its path: the constants applied to it in order, so two fields
 * decoded in swapped order (`shr 1; and 1; *10` against `and 1; *10`) differ even when the
 * constants as a set do not, and scheduling alone does not change a path. Alongside, the
 * value's bits (bitfield-bits.ts): the word bits each use decodes.
 */
function followRead(steps: readonly ReadStep[], k: number, add: (disp: number, c: string) => void, decode: (disp: number, bits: bigint) => void): void {
  const s = steps[k]!.step;
  const disp = s.loadDisp!;
  const paths = new Map<number, string>([[s.writes, '']]);
  const values = new Map<number, BitValue>();
  const start = steps[k]!.loaded;
  if (start !== null) values.set(s.writes, start);
  for (let j = k + 1; j < steps.length && j <= k + READ_STEPS && paths.size > 0; j++) {
    const t = steps[j]!.step;
    const constant = steps[j]!.constant;
    if (t.barrier) break;
    followBits(steps[j]!, values, (bits) => decode(disp, bits));
    const from = [...new Set(t.reads.filter((r) => paths.has(r)).map((r) => paths.get(r)!))].sort();
    if (t.writes < 0) {
      if (from.length > 0 && constant !== null) add(disp, `${from.join('|')}>${constant}`);
      continue;
    }
    if (from.length === 0) {
      paths.delete(t.writes);
      continue;
    }
    const joined = from.length === 1 ? from[0]! : `(${from.join('|')})`;
    const path = constant === null ? joined : `${joined}>${constant}`;
    if (constant !== null) add(disp, path);
    // A path grows with each constant; past MAX_PATH the value is no longer a field's.
    if (path.length <= MAX_PATH) paths.set(t.writes, path);
    else paths.delete(t.writes);
  }
  // Values still held where the walk ends are used there (returned, passed on).
  for (const v of values.values()) decode(disp, applyBitOp(v, { k: 'use' }).decoded);
}

/** One instruction on the followed values' bits: what it decodes, and the value it leaves in its destination. */
function followBits(rs: ReadStep, values: Map<number, BitValue>, decode: (bits: bigint) => void): void {
  const t = rs.step;
  // `add eax,eax` reads eax twice: one value doubled, not two combined. (Other instructions
  // that name a register twice keep their reading: `test rdi,rdi` ends the value, so a Vec
  // length tested, then scaled by `shl rdi,4`, decodes no field: swc-html 1.16.1 0x1b913e.)
  const followed = t.reads.filter((r) => values.has(r));
  const srcs = rs.bits.k === 'shl' && rs.bits.doubles === true ? [...new Set(followed)] : followed;
  if (srcs.length === 0) {
    if (t.writes >= 0) values.delete(t.writes);
    return;
  }
  // A transform of one followed value into the destination (`shr eax,3`, `movzx ecx,al`), or a look at it (`test al,8`).
  const transform = srcs.length === 1 && rs.bits.k !== 'use' && (t.writes === srcs[0] || rs.bits.k === 'copy');
  if (transform) {
    const r = applyBitOp(values.get(srcs[0]!)!, rs.bits);
    decode(r.decoded);
    if (t.writes >= 0) {
      if (r.next === null) values.delete(t.writes);
      else values.set(t.writes, r.next);
    }
    return;
  }
  const vs = srcs.map((r) => values.get(r)!);
  if (rs.bits.k === 'merge') {
    // `or eax,ecx`, `xor eax,edx`: the bits stay where they were (mixed when shifted otherwise).
    if (t.writes >= 0) values.set(t.writes, mergedValue(vs));
    return;
  }
  for (const v of vs) decode(applyBitOp(v, rs.bits.k === 'any' ? rs.bits : { k: 'use' }).decoded);
  if (t.writes >= 0) values.delete(t.writes);
}

/**
 * True when the new body decodes the word at `disp` along paths its old body does not (or
 * decodes it where the old body did not: new code reading old-packed words either way).
 */
export function readsDiffer(o: ReadScan, n: ReadScan, disp: number): boolean {
  const oc = o.paths.get(disp);
  const nc = n.paths.get(disp);
  if (nc === undefined) return false;
  if (oc === undefined || oc.size !== nc.size) return true;
  for (const c of oc) if (!nc.has(c)) return true;
  return false;
}

/** Per NEW function index, the bit-field changes (bitfield-layout.ts, register-base words) of each changed matched function that has some. */
export type BitfieldChanges = ReadonlyMap<number, readonly BitfieldChange[]>;

/**
 * The bit-field changes of every changed matched function, computed once per diff: the readers
 * rule below and the layout verdict (layout-shift.ts) both read them.
 */
export function bitfieldChangesOf(m: MatchResult, status: readonly FunctionStatus[], scans?: BitfieldScans): BitfieldChanges {
  const out = new Map<number, readonly BitfieldChange[]>();
  for (const f of m.new.fns.functions) {
    const o = m.fnNewToOld[f.index]!;
    if (status[f.index] !== 'changed' || o < 0) continue;
    const of = m.old.fns.functions[o]!;
    const cs = detectBitfieldChanges(m.old.img, of, m.new.img, f, REGISTER_WORDS, scans?.steps);
    // Only an input's mask narrowed (bitfield-narrowed.ts): every field keeps its bits.
    if (cs.length > 0 && !onlyInputMasksNarrowed(m.old.img.image, of, m.new.img.image, f)) out.set(f.index, cs);
  }
  return out;
}

/** The changed writers of one word: the first (named in the reasons), every one's function, and the lowest bit any of them may have moved. */
interface Writer {
  readonly f: FunctionInfo;
  readonly disp: number;
  readonly all: Set<number>;
  from: number;
}

/**
 * STRUCTURE_BITFIELD_CHANGED for readers, by NEW function index: changed matched functions
 * that decode, with other constants than before, bits of a word some changed writer now packs
 * differently, at or above the lowest bit the writer may have moved. The writers themselves
 * are refused by layout-shift.ts.
 */
export function bitfieldReaderProblems(m: MatchResult, status: readonly FunctionStatus[], changes: BitfieldChanges = bitfieldChangesOf(m, status), scans?: BitfieldScans): Map<number, Reason> {
  const out = new Map<number, Reason>();
  const pairs: Array<{ of: FunctionInfo; f: FunctionInfo }> = [];
  const writers = new Map<number, Writer>();
  for (const f of m.new.fns.functions) {
    const o = m.fnNewToOld[f.index]!;
    if (status[f.index] !== 'changed' || o < 0) continue;
    const of = m.old.fns.functions[o]!;
    pairs.push({ of, f });
    for (const c of changes.get(f.index) ?? []) {
      const w = writers.get(c.disp);
      if (w === undefined) writers.set(c.disp, { f, disp: c.disp, all: new Set([f.index]), from: c.from });
      else {
        w.all.add(f.index);
        w.from = Math.min(w.from, c.from);
      }
    }
  }
  if (writers.size === 0) return out;
  packedWriterProblems(m, pairs, writers, out, scans);
  for (const { of, f } of pairs) {
    const w = readerProblem(m.old.img, of, m.new.img, f, writers, scans);
    if (w !== null) out.set(f.index, reason('STRUCTURE_BITFIELD_CHANGED', `it decodes bits ${w.from} and up of the word at +${hex(w.disp)} with other mask or shift constants than its old body, and ${w.f.name ?? hex(w.f.entry)} now packs that word in another bit layout (refused): words packed before the patch keep the old bit order`, f.entry));
  }
  return out;
}

/**
 * The whole-word packing writers (bitfield-packed.ts) of a word some changed read-modify-write
 * writer now packs differently: refused into `out`, and that word's readers are then checked
 * from bit 0 (fields below the other writer's `from` may have swapped: probe bitfield-low-swap).
 * A word only packing writers changed is not refused: packing alone is also how a hash, a
 * code or a double's bits are computed (watcher 2.5.1, MSVC's floating-point formatting
 * 0x3c8d8: paired with any changed reader at the same displacement it refused 7 functions),
 * so gcc -O1's bitfield-reorder (the low byte stored whole, `mov [rcx],dl`, no
 * read-modify-write at all) is left to bitfield-packed-moves.ts, which links the packer's bit
 * map to a reader's decoded bits.
 */
function packedWriterProblems(m: MatchResult, pairs: ReadonlyArray<{ of: FunctionInfo; f: FunctionInfo }>, writers: ReadonlyMap<number, Writer>, out: Map<number, Reason>, scans: BitfieldScans | undefined): void {
  for (const { of, f } of pairs) {
    for (const disp of detectPackedChanges(m.old.img.image, of, m.new.img.image, f, scans?.steps)) {
      const w = writers.get(disp);
      if (w === undefined) continue;
      // A read-modify-write writer that also packs the word whole (gcc -O1: a byte store of
      // the low fields, then the read-modify-write of the others) lowers `from` too.
      w.from = 0;
      if (w.all.has(f.index)) continue;
      w.all.add(f.index);
      if (!out.has(f.index)) out.set(f.index, reason('STRUCTURE_BITFIELD_CHANGED', `it packs the word at +${hex(disp)} whole (a store that does not read it) with other mask or shift constants than its old body, and ${w.f.name ?? hex(w.f.entry)} now packs that word in another bit layout (refused): words packed before the patch keep the old bit order`, f.entry));
    }
  }
}

/**
 * The writer whose word `f` reads differently than its old body, decoding (new body) some bit
 * the writer may have moved; null when none. A read that decodes no bit-field (a length or
 * pointer used whole) or only bits below the moved ones is no reader of the layout change.
 */
function readerProblem(oldImg: MappedImage, of: FunctionInfo, newImg: MappedImage, f: FunctionInfo, writers: ReadonlyMap<number, Writer>, scans: BitfieldScans | undefined): Writer | null {
  const n = readScanOf(newImg.image, f, undefined, scans);
  // The words whose moved bits the new body decodes; only then is the old body read.
  const decoding = [...writers].filter(([disp, w]) => !w.all.has(f.index) && ((n.decoded.get(disp) ?? 0n) & ~lowBits(w.from)) !== 0n).sort((a, b) => a[0] - b[0]);
  if (decoding.length === 0) return null;
  const o = readScanOf(oldImg.image, of, undefined, scans);
  return decoding.find(([disp]) => readsDiffer(o, n, disp))?.[1] ?? null;
}
