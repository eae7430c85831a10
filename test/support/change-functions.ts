/**
 * A real build with chosen functions changed in place: one `mov r32, imm32` constant of each
 * is altered, so exactly those functions differ from the original and nothing moves. Tests
 * use it to make a package carry functions of a shape they need (split parts, image-relative
 * tables) from real compiler output, whatever the corpus's own releases happen to change.
 */
import { Code, Decoder, DecoderOptions, Instruction } from 'iced-x86';
import { asRva } from '../../common/types.ts';
import { parsePe, rvaToFileOffset } from '../../runtime/pe/parse-pe.ts';
import { diffFiles } from '../../compiler/index.ts';
import type { FunctionInfo } from '../../compiler/image/types.ts';
import type { MatchResult } from '../../compiler/match/match-images.ts';
import type { FunctionChange } from '../../compiler/diff/types.ts';

/** A copy of `bytes` where each of `fns` (its entry and the end of its first range) has one imm32 constant changed; returns the copy and the entries it changed (a function without a `mov r32, imm32` is left as it is). */
export function changeFunctions(bytes: Uint8Array, fns: readonly { readonly entry: number; readonly end: number }[]): { bytes: Uint8Array; changed: number[] } {
  const pe = parsePe(bytes);
  if (!pe.ok) throw new Error(`changeFunctions: ${pe.error.message}`);
  const out = bytes.slice();
  const changed: number[] = [];
  const ins = new Instruction();
  for (const f of fns) {
    const off = rvaToFileOffset(pe.value, asRva(f.entry));
    if (off === null) continue;
    const len = f.end - f.entry;
    const d = new Decoder(64, bytes.subarray(off, off + len), DecoderOptions.None);
    d.ip = BigInt(f.entry);
    while (d.canDecode) {
      d.decodeOut(ins);
      if (ins.code !== Code.Mov_r32_imm32) continue;
      // The imm32 is the instruction's last four bytes; flip a bit of its low byte.
      const at = off + Number(ins.ip - BigInt(f.entry)) + ins.length - 4;
      out[at] = out[at]! ^ 0x40;
      changed.push(f.entry);
      break;
    }
    d.free();
  }
  ins.free();
  return { bytes: out, changed };
}

/** The functions `pick` selects, as the compiler finds them (a diff of the file against itself). */
function pickFunctions(bytes: Uint8Array, pick: (f: FunctionInfo, m: MatchResult) => boolean): { entry: number; end: number }[] {
  const self = diffFiles(bytes, bytes);
  if (!self.ok) throw new Error(`withChangedFunctions: ${self.error.message}`);
  const m = self.value.match;
  return m.new.fns.functions.filter((f) => pick(f, m)).map((f) => ({ entry: f.entry, end: f.ranges[0]!.end }));
}

/**
 * `bytes` with every function `pick` selects changed (see changeFunctions); `pick` sees the
 * functions as the compiler finds them (a diff of the file against itself).
 */
export function withChangedFunctions(bytes: Uint8Array, pick: (f: FunctionInfo, m: MatchResult) => boolean): { bytes: Uint8Array; changed: number[] } {
  return changeFunctions(bytes, pickFunctions(bytes, pick));
}

/**
 * withChangedFunctions without the functions whose changed body the compiler refuses (their
 * verdict is their own: only a constant changed), so that nothing changed is left old and a
 * `--skip-refused` package carries every change (compiler/diff/left-old.ts leaves out carried
 * code that calls, or shares writable data with, changed code left old). `refusedFirst`: the
 * refusals of the first change, which picked every function `pick` selects.
 */
export function withCarriableChanges(bytes: Uint8Array, pick: (f: FunctionInfo, m: MatchResult) => boolean): { bytes: Uint8Array; changed: number[]; refusedFirst: FunctionChange[] } {
  const chosen = pickFunctions(bytes, pick);
  const first = changeFunctions(bytes, chosen);
  const d = diffFiles(bytes, first.bytes);
  if (!d.ok) throw new Error(`withCarriableChanges: ${d.error.message}`);
  const refusedFirst = d.value.functions.filter((f) => f.verdict === 'refused');
  if (refusedFirst.length === 0) return { ...first, refusedFirst };
  const refusedAt = new Set<number>(refusedFirst.flatMap((f) => (f.newRva === null ? [] : [f.newRva])));
  return { ...changeFunctions(bytes, chosen.filter((f) => !refusedAt.has(f.entry))), refusedFirst };
}
