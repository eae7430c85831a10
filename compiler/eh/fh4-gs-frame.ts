/**
 * A check that keeps FH4 (and any FuncInfo) data from passing for GS data when a handler
 * routine is classified by shape. GS data is one word, a frame offset, so almost any word
 * "fits" form `gs`: the first word of FH4 handler data (the FuncInfo4 RVA) does too, and a
 * handler misread as `gs` would have its FuncInfo4 RVA copied as if it were a constant. The
 * stack cookie lives in the function's fixed frame, so its offset is below the bytes the
 * prologue pushes and allocates (as the UNWIND_CODEs record them); an RVA into .rdata is not.
 */
import type { UnwindInfo } from '../../runtime/pe/types.ts';

const UWOP_PUSH_NONVOL = 0;
const UWOP_ALLOC_LARGE = 1;
const UWOP_ALLOC_SMALL = 2;
const UWOP_SET_FPREG = 3;
const UWOP_SAVE_NONVOL = 4;
const UWOP_SAVE_NONVOL_FAR = 5;
const UWOP_EPILOG = 6;
const UWOP_SAVE_XMM128 = 8;
const UWOP_SAVE_XMM128_FAR = 9;
const UWOP_PUSH_MACHFRAME = 10;

/**
 * Bytes the prologue described by `u` pushes and allocates (return address not counted),
 * or null when the unwind codes are malformed (unknown operation, slots missing).
 */
export function fixedFrameSize(u: UnwindInfo): number | null {
  const c = u.unwindCodes;
  let size = 0;
  for (let i = 0; i < c.length; ) {
    const slot = c[i]!;
    const op = (slot >> 8) & 0xf;
    const info = (slot >> 12) & 0xf;
    switch (op) {
      case UWOP_PUSH_NONVOL:
        size += 8;
        i += 1;
        break;
      case UWOP_ALLOC_LARGE:
        if (info === 0) {
          if (i + 1 >= c.length) return null;
          size += c[i + 1]! * 8;
          i += 2;
        } else if (info === 1) {
          if (i + 2 >= c.length) return null;
          size += c[i + 1]! + c[i + 2]! * 0x10000;
          i += 3;
        } else return null;
        break;
      case UWOP_ALLOC_SMALL:
        size += info * 8 + 8;
        i += 1;
        break;
      case UWOP_SET_FPREG:
        i += 1;
        break;
      case UWOP_SAVE_NONVOL:
      case UWOP_SAVE_XMM128:
      case UWOP_EPILOG:
        i += 2;
        break;
      case UWOP_SAVE_NONVOL_FAR:
      case UWOP_SAVE_XMM128_FAR:
        i += 3;
        break;
      case UWOP_PUSH_MACHFRAME:
        size += info === 0 ? 40 : 48;
        i += 1;
        break;
      default:
        return null;
    }
  }
  return size;
}

/**
 * True when the GS data word `word` (cookie offset | flags) can name a slot in the fixed
 * frame `u` describes. Used only to decide whether a nameless handler's users fit `gs`.
 */
export function gsCookieInFrame(u: UnwindInfo, word: number): boolean {
  const frame = fixedFrameSize(u);
  return frame !== null && (word & ~7) >>> 0 < frame;
}
