/**
 * A function body for unit tests, given as its encoded bytes (hex, whitespace-separated):
 * the bytes (indexed as RVAs from 0, as a mapped image is) and the span of each instruction
 * decoded in sequence, the shape the diff rules read from `FunctionInfo.decoded.insns`.
 */
import { Decoder, DecoderOptions, Instruction } from 'iced-x86';
import type { Rva } from '../../../common/types.ts';
import type { DecodedInsn } from '../../image/types.ts';

/** An encoded body: its bytes and its instructions' spans. */
export interface EncodedBody {
  readonly bytes: Uint8Array;
  readonly spans: Array<{ readonly rva: Rva; readonly length: number }>;
  /** The spans as the decoded function has them (`FunctionInfo.decoded.insns`): with each one's flow, no references. */
  readonly insns: DecodedInsn[];
}

export function encodedBody(hex: string): EncodedBody {
  const bytes = Uint8Array.from(hex.split(/\s+/).filter((x) => x !== '').map((x) => parseInt(x, 16)));
  const decoder = new Decoder(64, bytes, DecoderOptions.None);
  const insn = new Instruction();
  const spans: Array<{ rva: Rva; length: number }> = [];
  const insns: DecodedInsn[] = [];
  try {
    while (decoder.canDecode) {
      const rva = decoder.position as Rva; // the body's offsets are its RVAs
      decoder.decodeOut(insn);
      spans.push({ rva, length: insn.length });
      insns.push({ rva, length: insn.length, flow: insn.flowControl, refIndex: 0, refCount: 0 });
    }
  } finally {
    insn.free();
    decoder.free();
  }
  return { bytes, spans, insns };
}
