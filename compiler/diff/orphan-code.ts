/**
 * Code no discovered function owns, compared between OLD and NEW by its normalised text.
 */
import { Code, Decoder, DecoderOptions, FlowControl, Instruction, Mnemonic, OpKind } from 'iced-x86';
import { asRva, type Rva } from '../../common/types.ts';
import { sectionAt } from '../image/map-image.ts';
import type { ImageAnalysis } from '../match/analyze-image.ts';
import type { MatchResult } from '../match/match-images.ts';
import { latin1 } from '../match/normalise.ts';
import { reason } from './reasons.ts';
import type { DataChange } from './types.ts';

/**
 * Code no discovered function owns (reached only through paths the analysis cannot follow,
 * or never): its instructions, padding (int3, nop, zero) left out. A run of such code in NEW
 * that OLD does not have somewhere is refused: the diff cannot say what it belongs to.
 */
export function diffOrphanCode(m: MatchResult): DataChange[] {
  const runs = (a: ImageAnalysis): Array<{ rva: Rva; text: string }> => {
    const img = a.img;
    const norm = a === m.old ? m.oldNorm : m.newNorm;
    const owned = new Uint8Array(img.image.length);
    for (const f of a.fns.functions) for (const r of f.ranges) owned.fill(1, r.start, Math.min(r.end, owned.length));
    for (const d of a.items) if (sectionAt(img, d.start)?.executable === true) owned.fill(1, d.start, d.end);
    const out: Array<{ rva: Rva; text: string }> = [];
    const decoder = new Decoder(64, img.image, DecoderOptions.None);
    const insn = new Instruction();
    try {
      for (const sec of img.sections) {
        if (!sec.executable) continue;
        const end = sec.rva + sec.rawSize;
        let k: number = sec.rva;
        while (k < end) {
          // Skip to the next unowned byte, then to the end of its run (indexOf: native scans;
          // a code section is mostly owned).
          const start = owned.indexOf(0, k);
          if (start < 0 || start >= end) break;
          const runEnd = owned.indexOf(1, start);
          k = runEnd < 0 || runEnd > end ? end : runEnd;
          // Decode the run; keep what is not padding.
          let p = start;
          let text = '';
          while (p < k) {
            const b = img.image[p]!;
            if (b === 0xcc || b === 0x90 || b === 0x00) {
              p++;
              continue;
            }
            decoder.position = p;
            decoder.ip = BigInt(p);
            decoder.decodeOut(insn);
            const valid = insn.code !== Code.INVALID && insn.length > 0 && p + insn.length <= k;
            const len = valid ? insn.length : 1;
            if (valid && insn.mnemonic === Mnemonic.Nop) {
              p += len;
              continue;
            }
            const bytes = img.image.slice(p, p + len);
            let tok = '';
            if (valid && insn.isIpRelMemoryOperand) {
              // Position-independent form: the displacement becomes what it reaches.
              const co = decoder.getConstantOffsets(insn);
              bytes.fill(0, co.displacementOffset, co.displacementOffset + 4);
              co.free();
              tok = `|${norm.targetToken(null, Number(BigInt.asUintN(32, insn.ipRelMemoryAddress)), 'exact')}`;
              // `jmp [rip+IAT slot]`: an import thunk the linker added; harmless wherever it is.
              if (insn.flowControl === FlowControl.IndirectBranch && tok.startsWith('|m')) {
                p += len;
                continue;
              }
            } else if (valid && (insn.op0Kind === OpKind.NearBranch64 || insn.op0Kind === OpKind.NearBranch32)) {
              const size = insn.isJmpShort || insn.isJccShort || insn.isLoop || insn.isLoopcc || insn.isJcxShort ? 1 : 4;
              bytes.fill(0, len - size, len);
              tok = `|${norm.targetToken(null, Number(BigInt.asUintN(32, insn.nearBranchTarget)), 'exact')}`;
            }
            text += `${latin1(bytes)}${tok}\n`;
            p += len;
          }
          if (text.length > 0) out.push({ rva: asRva(start), text });
        }
      }
    } finally {
      insn.free();
      decoder.free();
    }
    return out;
  };
  const old = new Map<string, number>();
  for (const r of runs(m.old)) old.set(r.text, (old.get(r.text) ?? 0) + 1);
  const out: DataChange[] = [];
  for (const r of runs(m.new)) {
    const n = old.get(r.text) ?? 0;
    if (n > 0) {
      old.set(r.text, n - 1);
      continue;
    }
    out.push({
      name: null,
      section: sectionAt(m.new.img, r.rva)?.name ?? null,
      oldRva: null,
      newRva: r.rva,
      size: r.text.length,
      status: 'changed',
      verdict: 'refused',
      reason: reason('UNOWNED_CODE_CHANGED', `code at 0x${r.rva.toString(16)} belongs to no discovered function and differs from OLD: the diff cannot tell what it changes`, r.rva),
    });
  }
  return out;
}
