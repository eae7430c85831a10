/**
 * GS data: what `__GSHandlerCheck` (and the GS part of `__GSHandlerCheck_SEH` / `_EH` /
 * `_EH4`) reads to find the stack cookie of a frame. Layout (GS_HANDLER_DATA):
 * `u32 cookieOffset | flags`, flags in the low 3 bits (bit 0 EHandler, bit 1 UHandler, bit 2
 * HasAlignment); with HasAlignment, two more words follow: `i32 alignedBaseOffset` and
 * `i32 alignment`. Frame offsets only, no RVAs: it is copied as it is.
 */
import { err, ok, type Result } from '../../common/errors.ts';
import type { Rva } from '../../common/types.ts';
import { readU32 } from './read.ts';
import type { HandlerDataContext, HandlerForm, ParsedHandlerData } from './types.ts';

/** Frames larger than this are not plausible; a larger cookie offset is not GS data. */
const MAX_COOKIE_OFFSET = 0x10_0000;

/**
 * Length in bytes of the GS data at `at` (4 or 12), or an error saying why it is not GS data.
 * The cookie must lie inside the frame the prolog builds (`frameSize`, from the unwind codes):
 * that is what tells a cookie offset from an RVA (an FH4 FuncInfo's, say) that happens to be
 * small, so an unknown frame size refuses.
 */
export function gsDataLength(image: Uint8Array, at: number, frameSize: number | null): Result<number> {
  const w = readU32(image, at);
  if (w === null) return err('DIFF_EH_DATA', `GS data at 0x${at.toString(16)} is outside the image`);
  const cookie = w & ~7;
  // A zero cookie offset would put the cookie at the frame's base: no compiler emits it, and
  // accepting it would let almost any word pass as GS data.
  if (cookie === 0 || cookie >= MAX_COOKIE_OFFSET) return err('DIFF_EH_DATA', `GS cookie offset 0x${cookie.toString(16)} at 0x${at.toString(16)} is not plausible`);
  if (frameSize === null || cookie + 8 > frameSize) return err('DIFF_EH_DATA', `GS cookie offset 0x${cookie.toString(16)} at 0x${at.toString(16)} is outside the ${frameSize === null ? 'unknown' : `0x${frameSize.toString(16)}-byte`} frame`);
  if ((w & 4) === 0) return ok(4);
  if (readU32(image, at + 8) === null) return err('DIFF_EH_DATA', `GS alignment words at 0x${at.toString(16)} are outside the image`);
  return ok(12);
}

/** Parses form `gs`: GS data alone, inline, with no fields. */
export function parseGs(ctx: HandlerDataContext, dataRva: Rva, form: HandlerForm): Result<ParsedHandlerData> {
  if (form !== 'gs') return err('DIFF_EH_DATA', `parseGs cannot read form ${form}`);
  const n = gsDataLength(ctx.image, dataRva, ctx.frameSize);
  if (!n.ok) return n;
  return ok({ form, inline: { rva: dataRva, length: n.value, fields: [] }, structures: [], funclets: [] });
}
