/**
 * Whether OLD's code provably never touches some bytes of a writable section, for a NEW
 * global that NEW code references for the first time and whose OLD address (by layout,
 * match/writable-layout.ts) falls inside an OLD item (a stripped image runs each item to the
 * next referenced address).
 *
 * Stripped, `global-reuse` (a fix newly reads `g_bias`, next to the dword `g_limit` that
 * unchanged code reads) and `padded-struct` (a struct grew inside its padding: new code reads
 * +0x18, which no old code touched, and +0x10 changed meaning) look alike: a new read past
 * everything OLD's code touched in the item before. They differ in who accesses that old
 * item: in `padded-struct` the functions that access it changed (a field was inserted, so
 * their offsets mean other fields); in `global-reuse` they are unchanged, so NEW's code sees
 * those bytes as OLD's did. The bytes are accepted as a global of their own only when:
 * - every OLD code reference from the section's start up to the end of the range is a
 *   RIP-relative load or store with a known size (no `lea`, no absolute address, no index:
 *   no address escapes that could reach the range through a pointer), and none overlaps it;
 * - every OLD reference into the enclosing item comes from a function NEW keeps unchanged;
 * - no base-relocated pointer, and no image-relative field, points into that span.
 * The running image then holds the range's initial bytes, which the diff separately proves
 * equal in both builds (diffWritable), so NEW code reads what a fresh NEW would.
 */
import { Decoder, DecoderOptions, Instruction, MemorySizeExt, Mnemonic } from 'iced-x86';
import { absTarget, type MappedSection } from '../image/map-image.ts';
import type { DataItem } from '../image/types.ts';
import type { MatchResult } from '../match/match-images.ts';
import type { UntouchedOld } from '../match/writable-layout.ts';
import type { FunctionStatus } from './types.ts';

/** The check for OLD ranges, given the status of each NEW function. */
export function untouchedByOldCode(m: MatchResult, newStatus: readonly FunctionStatus[]): UntouchedOld {
  const old = m.old;
  return (sec: MappedSection, from: number, to: number, inside: DataItem): boolean => {
    if (from < inside.start || to > inside.end || from >= to) return false;
    for (const [rva, type] of old.img.relocs) {
      const t = absTarget(old.img, rva, type);
      if (t >= sec.rva && t < to) return false;
    }
    for (const t of old.rvaFields.values()) if (t >= sec.rva && t < to) return false;
    const decoder = new Decoder(64, old.img.image, DecoderOptions.None);
    const insn = new Instruction();
    try {
      for (const f of old.fns.functions) {
        for (const r of f.decoded.refs) {
          if (r.isBranch || r.target < sec.rva || r.target >= to) continue;
          if (r.kind !== 'riprel32') return false;
          decoder.position = r.insnRva;
          decoder.ip = BigInt(r.insnRva);
          decoder.decodeOut(insn);
          const size = insn.mnemonic === Mnemonic.Lea ? 0 : MemorySizeExt.size(insn.memorySize);
          if (size <= 0 || insn.memoryIndex !== 0) return false;
          if (r.target < to && r.target + size > from) return false;
          if (r.target >= inside.start && r.target < inside.end) {
            const n = m.fnOldToNew[f.index]!;
            if (n < 0 || newStatus[n] !== 'unchanged') return false;
          }
        }
      }
    } finally {
      insn.free();
      decoder.free();
    }
    return true;
  };
}
