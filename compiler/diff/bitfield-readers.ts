/**
 * The readers of a reordered bit-field word. bitfield-layout.ts refuses the WRITER whose
 * store packs a word with other mask and shift constants; the functions that decode that word
 * with new constants are just as wrong on words the old writer packed, yet alone they look
 * like a fix that tests another bit (probe bitfield-flag-fix, hotpatchable). So: when some
 * changed function's bit-field store changed at displacement X, every other changed function
 * whose reads of a word at X (through a register base) are decoded along other paths of mask,
 * shift and weight constants than its old body's (or that decodes X where its old body did not)
 * is refused with the same code, naming that writer. With
 * --skip-refused the readers are then left out with the writer (probe bitfield-reorder:
 * `unpack`). A read-only change with no changed writer at that offset still passes.
 *
 * A read is a load of `[base+X]` into a register (or an in-place `test/bt [base+X],imm`);
 * its paths are the constants applied to the loaded value, in order, by the instructions of
 * the next READ_STEPS (address order, across branches, stopping at a call) that compute from
 * it: mask immediates of and/or/xor/test, shift and bit-test counts, lea scales, and the
 * weights (`lea r,[x+x*4]`, `imul r,x,10`) that tell which decoded field is which. Words are keyed by
 * displacement alone, as the writer's are: two structures with a bit-field word at one offset
 * couple, which refuses more, never less.
 */
import { type Instruction, Mnemonic } from 'iced-x86';
import { hex } from '../../common/types.ts';
import type { MappedImage } from '../image/map-image.ts';
import type { FunctionInfo } from '../image/types.ts';
import type { MatchResult } from '../match/match-images.ts';
import { detectBitfieldChange, type Step, stepOf } from './bitfield-layout.ts';
import { reason, type Reason } from './reasons.ts';
import { decodeEach } from './register-effects.ts';
import type { FunctionStatus } from './types.ts';

/** How far after a load its value is followed. */
const READ_STEPS = 24;
/** Longest path (characters) a decoded value carries. */
const MAX_PATH = 160;

/** Per displacement read through a register base, the paths of bit constants that decode it. */
type ReadScan = Map<number, Set<string>>;

/**
 * The weight a decoded field is multiplied by (`lea r,[x+x*4]` is x*5, `imul r,x,10`): which
 * field gets which weight is what tells two swapped fields' readers apart.
 */
function weightOf(insn: Instruction): string | null {
  if (insn.mnemonic === Mnemonic.Lea && insn.memoryIndexScale > 1 && insn.memoryBase === insn.memoryIndex) return `times ${insn.memoryIndexScale + 1}`;
  if (insn.mnemonic === Mnemonic.Imul && insn.opCount === 3) return `times ${Number(insn.immediate(2))}`;
  return null;
}

/** An instruction as the forward walk sees it: bitfield-layout.ts' step, and the constant a decoded value picks up there. */
interface ReadStep {
  readonly step: Step;
  readonly constant: string | null;
}

function scanReads(image: Uint8Array, f: FunctionInfo): ReadScan {
  const steps: ReadStep[] = [];
  decodeEach(image, f.decoded.insns, (insn) => {
    const step = stepOf(insn);
    // A `mov r,imm` is no constant applied to a loaded value (it does not read one).
    steps.push({ step, constant: insn.mnemonic === Mnemonic.Mov ? null : (step.constant ?? weightOf(insn)) });
  });
  const out: ReadScan = new Map();
  const add = (disp: number, c: string): void => {
    const set = out.get(disp) ?? new Set<string>();
    set.add(c);
    out.set(disp, set);
  };
  for (let k = 0; k < steps.length; k++) {
    const s = steps[k]!.step;
    if (s.loadDisp === null || s.loadDisp < 0 || s.store !== null) continue;
    // `test byte [rcx],8`, `bt dword [rcx],3`: the word's own bit test.
    if (s.writes < 0) {
      if (steps[k]!.constant !== null) add(s.loadDisp, steps[k]!.constant!);
      continue;
    }
    const disp = s.loadDisp;
    // Forward over the loaded value's uses. Each register holding the value (or one computed
    // from it) carries its path: the constants applied to it in order, so two fields decoded
    // in swapped order (`shr 1; and 1; *10` against `and 1; *10`) differ even when the
    // constants as a set do not, and scheduling alone does not change a path.
    const paths = new Map<number, string>([[s.writes, '']]);
    for (let j = k + 1; j < steps.length && j <= k + READ_STEPS && paths.size > 0; j++) {
      const t = steps[j]!.step;
      const constant = steps[j]!.constant;
      if (t.barrier) break;
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
  }
  return out;
}

/**
 * True when the new body decodes the word at `disp` along paths its old body does not (or
 * decodes it where the old body did not: new code reading old-packed words either way).
 */
function readsDiffer(o: ReadScan, n: ReadScan, disp: number): boolean {
  const oc = o.get(disp);
  const nc = n.get(disp);
  if (nc === undefined) return false;
  if (oc === undefined || oc.size !== nc.size) return true;
  for (const c of oc) if (!nc.has(c)) return true;
  return false;
}

/** A changed writer: its new body's name and the displacement its bit-field store changed at. */
interface Writer {
  readonly f: FunctionInfo;
  readonly disp: number;
}

/**
 * STRUCTURE_BITFIELD_CHANGED for readers, by NEW function index: changed matched functions
 * that decode, with other constants than before, a word some changed writer now packs
 * differently. The writers themselves are refused by layout-shift.ts.
 */
export function bitfieldReaderProblems(m: MatchResult, status: readonly FunctionStatus[]): Map<number, Reason> {
  const out = new Map<number, Reason>();
  const pairs: Array<{ of: FunctionInfo; f: FunctionInfo }> = [];
  const writers = new Map<number, Writer>();
  for (const f of m.new.fns.functions) {
    const o = m.fnNewToOld[f.index]!;
    if (status[f.index] !== 'changed' || o < 0) continue;
    const of = m.old.fns.functions[o]!;
    pairs.push({ of, f });
    const c = detectBitfieldChange(m.old.img, of, m.new.img, f);
    if (c !== null && !writers.has(c.disp)) writers.set(c.disp, { f, disp: c.disp });
  }
  if (writers.size === 0) return out;
  for (const { of, f } of pairs) {
    const w = readerProblem(m.old.img, of, m.new.img, f, writers);
    if (w !== null) out.set(f.index, reason('STRUCTURE_BITFIELD_CHANGED', `it decodes the word at +${hex(w.disp)} with other mask or shift constants than its old body, and ${w.f.name ?? hex(w.f.entry)} now packs that word in another bit layout (refused): words packed before the patch keep the old bit order`, f.entry));
  }
  return out;
}

function readerProblem(oldImg: MappedImage, of: FunctionInfo, newImg: MappedImage, f: FunctionInfo, writers: ReadonlyMap<number, Writer>): Writer | null {
  const n = scanReads(newImg.image, f);
  if (n.size === 0) return null;
  const o = scanReads(oldImg.image, of);
  for (const [disp, w] of [...writers].sort((a, b) => a[0] - b[0])) {
    if (w.f.index !== f.index && readsDiffer(o, n, disp)) return w;
  }
  return null;
}
