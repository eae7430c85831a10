/**
 * Leaf functions in the gaps between discovered functions. clang (lld, mingw) emits no
 * .pdata entry for a leaf that needs no unwind info, and when it folds such a function's
 * result into its callers (interprocedural constant propagation: `greeting`,
 * `feature_level` in the samples) nothing calls it any more. Stripped, nothing names it,
 * so it is unowned code, and a change to it could only be refused.
 *
 * A gap becomes a function only when it has the shape a compiler gives one, and the only
 * shape the x64 ABI allows without .pdata, a frameless leaf: after the previous function's
 * end only padding (int3, nop, multi-byte nop), a start aligned to 16 bytes, a clean decode
 * (no problem: no invalid byte, no branch the decoder cannot follow) that stays inside the
 * gap and leaves it only by tail jumps to known functions, no call and no instruction that
 * moves RSP (push, pop, sub/add rsp, ...: such a function must have unwind data), and only
 * padding from its end up to the next known function (or zeros to the section's end).
 * Anything else (data in .text such as mingw's __CTOR_LIST__, code of another shape) stays
 * unowned, and a change to it stays refused. Only dead leaves are taken: no reference of
 * any decoded function, no base relocation and no export reaches into the gap, and no RVA stored in data reaches into the function (code whose
 * address is taken, by a `lea` say, is what discovery's own sources must find). So the
 * functions found have no callers and start nothing new: no other function's extent
 * depends on them.
 */
import { Code, Decoder, DecoderOptions, FlowControl, Instruction, Mnemonic, OpKind, Register } from 'iced-x86';
import type { Rva } from '../../common/types.ts';
import type { Disassembler } from '../disasm/decode-function.ts';
import type { DecodedFunction, FunctionTable } from '../image/types.ts';
import { absTarget, type MappedImage } from '../image/map-image.ts';
import { findRuntimeTables } from '../image/runtime-tables.ts';

/** Alignment compilers give function starts (gcc and clang: 16). */
const FUNCTION_ALIGN = 16;

/** A leaf function found in a gap: [entry, end) and its decode. */
export interface GapFunction {
  readonly entry: Rva;
  readonly end: Rva;
  readonly decoded: DecodedFunction;
}

const MOVES_STACK = new Set<Mnemonic>([Mnemonic.Push, Mnemonic.Pop, Mnemonic.Pushfq, Mnemonic.Popfq, Mnemonic.Enter, Mnemonic.Leave, Mnemonic.Call]);

/** The gap functions of `img`, given the functions found so far, in address order. */
export function findGapFunctions(img: MappedImage, table: FunctionTable, dis: Disassembler): GapFunction[] {
  // Scope: images without a load configuration, as mingw's ld and lld link by default. MSVC's
  // CRT always has one, and there leaves without .pdata are reached through data this search
  // cannot read (FH3/FH4 unwind funclets named by compressed EH data, thunks): found as
  // "dead", they would be no such thing. Go's runtime reaches its functions through the
  // pclntab's text offsets (runtime tables): not dead either. Outside the scope such code
  // stays unowned.
  if (img.pe.loadConfig !== null || findRuntimeTables(img).length > 0) return [];
  const owned = new Uint8Array(img.image.length);
  const starts = new Set<number>();
  for (const f of table.functions) {
    starts.add(f.entry);
    for (const r of f.ranges) owned.fill(1, r.start, Math.min(r.end, owned.length));
  }
  // Every address something visibly reaches: a gap holding one is no dead leaf.
  const reached: number[] = [];
  for (const f of table.functions) for (const r of f.decoded.refs) reached.push(r.target);
  for (const r of img.relocRvas) reached.push(absTarget(img, r, img.relocs.get(r) ?? 0));
  for (const e of img.pe.exports?.entries ?? []) reached.push(e.rva);
  reached.sort((a, b) => a - b);
  /** Whether something reaches into [start, end). */
  const reachedIn = (start: number, end: number): boolean => {
    let lo = 0;
    let hi = reached.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (reached[mid]! < start) lo = mid + 1;
      else hi = mid;
    }
    return lo < reached.length && reached[lo]! < end;
  };
  const decoder = new Decoder(64, img.image, DecoderOptions.None);
  const insn = new Instruction();
  /** End of the padding run at `p` (before `end`): int3, nop, multi-byte nop. */
  const skipPadding = (p: number, end: number): number => {
    while (p < end) {
      const b = img.image[p]!;
      if (b === 0xcc || b === 0x90) {
        p++;
        continue;
      }
      decoder.position = p;
      decoder.ip = BigInt(p);
      decoder.decodeOut(insn);
      if (insn.code === Code.INVALID || insn.mnemonic !== Mnemonic.Nop || p + insn.length > end) return p;
      p += insn.length;
    }
    return p;
  };
  /** Whether decoded `d` is a frameless leaf: no call, nothing that writes RSP. */
  const isLeaf = (d: DecodedFunction): boolean => {
    for (const x of d.insns) {
      if (x.flow === FlowControl.Call || x.flow === FlowControl.IndirectCall) return false;
      decoder.position = x.rva;
      decoder.ip = BigInt(x.rva);
      decoder.decodeOut(insn);
      if (MOVES_STACK.has(insn.mnemonic)) return false;
      if (insn.op0Kind === OpKind.Register && (insn.op0Register === Register.RSP || insn.op0Register === Register.ESP || insn.op0Register === Register.SP) && insn.mnemonic !== Mnemonic.Cmp && insn.mnemonic !== Mnemonic.Test) return false;
    }
    return true;
  };
  const out: GapFunction[] = [];
  try {
    for (const sec of img.sections) {
      if (!sec.executable) continue;
      const secEnd = Math.min(sec.rva + sec.rawSize, img.image.length);
      let k = sec.rva;
      while (k < secEnd) {
        if (owned[k] === 1) {
          k++;
          continue;
        }
        // A gap: it must follow a function (the section's first bytes are no such gap) and
        // end at a known function start or the section's end.
        const gapStart = k;
        while (k < secEnd && owned[k] === 0) k++;
        const gapEnd = k;
        if (gapStart === sec.rva || (gapEnd < secEnd && !starts.has(gapEnd)) || reachedIn(gapStart, gapEnd)) continue;
        let p = skipPadding(gapStart, gapEnd);
        while (p < gapEnd) {
          if (p % FUNCTION_ALIGN !== 0) break;
          const at = p as Rva; // inside a code section's gap: an RVA
          const d = dis.decodeFunction(at, [{ start: at, end: gapEnd as Rva }], false);
          const end = d.maxEnd;
          if (d.problems.length > 0 || end <= p || end > gapEnd || d.externalCodeTargets.some((t) => !starts.has(t)) || !isLeaf(d)) break;
          const next = skipPadding(end, gapEnd);
          // Trailing zeros up to the section's end are the section's own padding.
          const rest = gapEnd === secEnd ? img.image.subarray(next, gapEnd).every((b) => b === 0) : next === gapEnd;
          if (!rest && next % FUNCTION_ALIGN !== 0) break;
          // Decoded again over its final extent, sweeping inside it as functions are.
          out.push({ entry: at, end, decoded: dis.decodeFunction(at, [{ start: at, end }], true) });
          p = next;
          if (rest) break;
        }
      }
    }
  } finally {
    insn.free();
    decoder.free();
  }
  return out.length === 0 ? out : withoutRvaReferences(img, out);
}

/**
 * `found` less the functions an RVA stored in data may reach: exception-handler data (MSVC
 * FuncInfo unwind maps name their funclets by RVA, FH4 at any alignment), scope tables and
 * other image-relative tables hold no relocation. Every 4 bytes at every offset of every
 * non-executable section are read as an RVA; a value inside a function drops it
 * (conservative: a coincidence only leaves code unowned).
 */
function withoutRvaReferences(img: MappedImage, found: readonly GapFunction[]): GapFunction[] {
  const lo = found[0]!.entry;
  const hi = found[found.length - 1]!.end;
  const hit = new Set<number>();
  const dv = new DataView(img.image.buffer, img.image.byteOffset, img.image.byteLength);
  for (const sec of img.sections) {
    if (sec.executable) continue;
    const end = Math.min(sec.rva + sec.rawSize, img.image.length) - 4;
    for (let k = sec.rva; k <= end; k++) {
      const v = dv.getUint32(k, true);
      if (v < lo || v >= hi) continue;
      // The last function starting at or below v (they are sorted and disjoint).
      let a = 0;
      let b = found.length - 1;
      while (a < b) {
        const mid = (a + b + 1) >> 1;
        if (found[mid]!.entry <= v) a = mid;
        else b = mid - 1;
      }
      if (v >= found[a]!.entry && v < found[a]!.end) hit.add(a);
    }
  }
  return found.filter((_, i) => !hit.has(i));
}
