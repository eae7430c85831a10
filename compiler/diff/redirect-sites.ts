/**
 * Redirect sites: how an old function's entry is overwritten (a 5-byte `jmp rel32`, or a
 * 2-byte `jmp short` to int3/nop padding within reach), or why it cannot be, under the
 * thread rule (no branch target or return address inside the overwritten bytes).
 */
import { Code, Decoder, DecoderOptions, FlowControl, Instruction, Mnemonic } from 'iced-x86';
import { asRva, rvaAdd } from '../../common/types.ts';
import { sectionAt } from '../image/map-image.ts';
import type { FunctionInfo } from '../image/types.ts';
import type { ImageAnalysis } from '../match/analyze-image.ts';
import { reason, type Reason } from './reasons.ts';
import type { RedirectPlan } from './types.ts';

/**
 * True when [start, end) lies in alignment padding: the run of int3 / nop instructions
 * (including multi-byte nops) that fills the space up to the next function or section end.
 * No code runs there, so a redirect may overwrite it.
 */
function isPadding(image: Uint8Array, start: number, end: number, a: ImageAnalysis): boolean {
  // The padding run starts where the code before `start` ends; decode from there, so the
  // instruction boundaries are the padding's own.
  let runStart = -1;
  for (let k = start - 1; k >= 0 && k >= start - 256; k--) {
    const owner = a.fns.containing(k);
    if (owner !== undefined) {
      runStart = owner.ranges.find((r) => k >= r.start && k < r.end)!.end;
      break;
    }
  }
  if (runStart < 0 || runStart > start) return false;
  const limit = Math.min(image.length, Math.max(end, runStart) + 16);
  const decoder = new Decoder(64, image.subarray(runStart, limit), DecoderOptions.None);
  const insn = new Instruction();
  try {
    let at = runStart;
    while (at < end) {
      decoder.position = at - runStart;
      decoder.ip = BigInt(at);
      decoder.decodeOut(insn);
      if (insn.code === Code.INVALID) return false;
      const m = insn.mnemonic;
      if (m !== Mnemonic.Nop && m !== Mnemonic.Int3) return false;
      if (at + insn.length > limit) return false;
      at += insn.length;
    }
    return true;
  } finally {
    insn.free();
    decoder.free();
  }
}

/**
 * Decides how to redirect old function `of`, or says why it cannot be redirected safely.
 * A 5-byte `jmp rel32` when the function (plus int3/nop padding after it) spans 5 bytes;
 * otherwise a 2-byte `jmp short` to a run of 5 padding bytes within reach. In both cases no
 * branch may target, and no call may return into, the overwritten bytes.
 */
export function planRedirect(a: ImageAnalysis, of: FunctionInfo, reserved: Set<number> = new Set()): RedirectPlan | Reason {
  const img = a.img;
  const entry = of.entry;
  const bodyEnd = of.ranges[0]!.end;
  const name = of.name ?? `0x${entry.toString(16)}`;
  const owner = (rva: number): FunctionInfo | undefined => a.fns.containing(rva);
  const padFrom = (start: number, n: number): boolean => {
    for (let k = start; k < start + n; k++) {
      if (k >= img.image.length || reserved.has(k) || owner(k) !== undefined || sectionAt(img, k)?.executable !== true) return false;
    }
    return isPadding(img.image, start, start + n, a);
  };
  let plan: RedirectPlan | null = null;
  let site = 5;
  if (bodyEnd - entry >= 5 || padFrom(bodyEnd, entry + 5 - bodyEnd)) plan = { kind: 'jmp-rel32' };
  else if (bodyEnd - entry >= 2) {
    site = 2;
    // Nearest 5-byte padding run reachable by EB rel8 (target = entry + 2 + [-128, 127]).
    for (let delta = 0; delta <= 127 && plan === null; delta++) {
      for (const cand of delta === 0 ? [entry + 2] : [entry + 2 + delta, entry + 2 - delta]) {
        if (cand - (entry + 2) < -128 || cand - (entry + 2) > 127 || cand < 0) continue;
        if (padFrom(cand, 5)) {
          plan = { kind: 'short-to-pad', padRva: asRva(cand) };
          break;
        }
      }
    }
  }
  if (plan === null) return reason('REDIRECT_SITE_TOO_SHORT', `${name} is ${bodyEnd - entry} bytes: too short for a 5-byte jump, with no int3/nop padding after it or within short-jump reach`, entry);
  for (let k = entry + 1; k < entry + site; k++) {
    if (a.branchTargets.has(k)) return reason('THREAD_RULE', `the thread rule cannot protect ${name}: a branch targets entry+${k - entry}, inside the ${site} bytes the redirect overwrites`, rvaAdd(entry, k - entry));
  }
  // A call inside the site leaves return addresses pointing into it.
  let at: number = entry;
  for (const insn of of.decoded.insns) {
    if (insn.rva < entry || insn.rva >= entry + site) continue;
    at = insn.rva + insn.length;
    if ((insn.flow === FlowControl.Call || insn.flow === FlowControl.IndirectCall) && at < entry + site) {
      return reason('THREAD_RULE', `the thread rule cannot protect ${name}: a call at entry+${insn.rva - entry} returns inside the ${site} bytes the redirect overwrites`, insn.rva);
    }
  }
  // Two redirects must never share bytes (a pad used twice, a site spilling into a pad).
  for (let k = entry; k < entry + site; k++) reserved.add(k);
  if (plan.kind === 'short-to-pad') for (let k = plan.padRva; k < plan.padRva + 5; k++) reserved.add(k);
  return plan;
}
