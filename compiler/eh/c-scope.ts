/**
 * `__C_specific_handler` scope tables (SEH `__try` / `__except` / `__finally` in C, and
 * what Rust and C++ `/EHa` code uses for cleanups). Layout (SCOPE_TABLE), inline after the
 * handler RVA: `u32 count`, then `count` entries of four u32:
 * - `BeginAddress`, `EndAddress`: the guarded range, inside the function (End may be its end);
 * - `HandlerAddress`: 1 (EXCEPTION_EXECUTE_HANDLER, a constant) or the RVA of a filter
 *   function (a funclet with its own .pdata entry), or, for a `__finally`, of the
 *   termination handler;
 * - `JumpTarget`: 0 for a termination handler, else the `__except` block, inside the function.
 * `__GSHandlerCheck_SEH` reads a scope table, then GS data after it.
 */
import { err, ok, type Result } from '../../common/errors.ts';
import type { Rva } from '../../common/types.ts';
import { gsDataLength } from './gs.ts';
import { inRanges, readU32 } from './read.ts';
import type { HandlerDataContext, HandlerForm, HandlerRvaField, ParsedHandlerData } from './types.ts';

/** More scopes than this in one function is not a real scope table. */
const MAX_SCOPES = 4096;

/** Parses forms `c-scope` and `gs-c-scope`. */
export function parseCScope(ctx: HandlerDataContext, dataRva: Rva, form: HandlerForm): Result<ParsedHandlerData> {
  if (form !== 'c-scope' && form !== 'gs-c-scope') return err('DIFF_EH_DATA', `parseCScope cannot read form ${form}`);
  const img = ctx.image;
  const at = (rva: number): string => `0x${rva.toString(16)}`;
  const count = readU32(img, dataRva);
  if (count === null) return err('DIFF_EH_DATA', `scope table at ${at(dataRva)} is outside the image`);
  if (count > MAX_SCOPES) return err('DIFF_EH_DATA', `scope table at ${at(dataRva)} claims ${count} entries`);
  const fields: HandlerRvaField[] = [];
  const funclets: number[] = [];
  for (let i = 0; i < count; i++) {
    const e = dataRva + 4 + 16 * i;
    const begin = readU32(img, e);
    const end = readU32(img, e + 4);
    const handler = readU32(img, e + 8);
    const target = readU32(img, e + 12);
    if (begin === null || end === null || handler === null || target === null) return err('DIFF_EH_DATA', `scope table at ${at(dataRva)}: entry ${i} is outside the image`);
    if (!inRanges(ctx.ranges, begin) || !inRanges(ctx.ranges, end, true) || end <= begin) {
      return err('DIFF_EH_DATA', `scope table at ${at(dataRva)}: entry ${i} guards ${at(begin)}..${at(end)}, not a range of the function`);
    }
    fields.push({ offset: 4 + 16 * i, target: begin, role: 'code' }, { offset: 8 + 16 * i, target: end, role: 'code' });
    if (handler !== 1) {
      // A filter or termination handler: code of its own, run on this function's frame.
      if (!ctx.isFunctionStart(handler)) return err('DIFF_EH_DATA', `scope table at ${at(dataRva)}: entry ${i} handler ${at(handler)} is not a function`);
      fields.push({ offset: 12 + 16 * i, target: handler, role: 'function' });
      if (!funclets.includes(handler)) funclets.push(handler);
    }
    if (target !== 0) {
      if (!inRanges(ctx.ranges, target)) return err('DIFF_EH_DATA', `scope table at ${at(dataRva)}: entry ${i} jumps to ${at(target)}, outside the function`);
      fields.push({ offset: 16 + 16 * i, target, role: 'code' });
    } else if (handler === 1) {
      return err('DIFF_EH_DATA', `scope table at ${at(dataRva)}: entry ${i} is a termination handler with no handler`);
    }
  }
  let length = 4 + 16 * count;
  if (form === 'gs-c-scope') {
    const gs = gsDataLength(img, dataRva + length, ctx.frameSize);
    if (!gs.ok) return gs;
    length += gs.value;
  }
  return ok({ form, inline: { rva: dataRva, length, fields }, structures: [], funclets });
}
