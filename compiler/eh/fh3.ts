/**
 * MSVC C++ exception-handler data for `__CxxFrameHandler3` (and the older `__CxxFrameHandler`,
 * which reads the same tables): a FuncInfo, reached from the handler data, and its maps.
 * Layout on x64 (all disp* fields are image-relative RVAs, 0 = absent):
 * - handler data: `u32 dispFuncInfo` (form `fh3`); `__GSHandlerCheck_EH` then has GS data
 *   (form `gs-fh3`).
 * - FuncInfo (32 bytes for magic 0x19930520, 36 for ...21, 40 for ...22): `u32 magic`,
 *   `i32 maxState`, `dispUnwindMap`, `u32 nTryBlocks`, `dispTryBlockMap`, `u32 nIPMapEntries`,
 *   `dispIPtoStateMap`, `i32 dispUnwindHelp` (a frame offset), [`dispESTypeList`], [`i32 EHFlags`].
 * - UnwindMapEntry (8): `i32 toState`, `action` (an unwind funclet, 0 = none); maxState of them.
 * - TryBlockMapEntry (20): `i32 tryLow, tryHigh, catchHigh, nCatches`, `dispHandlerArray`.
 * - HandlerType (20): `u32 adjectives`, `dispType` (a TypeDescriptor in data, 0 = catch(...)),
 *   `i32 dispCatchObj` (frame offset), `dispOfHandler` (the catch funclet), `i32 dispFrame`.
 * - IPtoStateMapEntry (8): `ip` (an address in the function or one of its funclets), `i32 state`.
 * - ESTypeList (8): `i32 nCount`, `dispTypeArray` (nCount HandlerTypes).
 * Funclets (catch handlers, unwind actions) have .pdata entries of their own whose handler
 * data names the same FuncInfo; they run on the parent's frame, so they travel with it.
 */
import { err, ok, type Result } from '../../common/errors.ts';
import { asRva, type Rva } from '../../common/types.ts';
import { gsDataLength } from './gs.ts';
import { readI32, readU32 } from './read.ts';
import type { HandlerDataContext, HandlerForm, HandlerRvaField, HandlerStructure, ParsedHandlerData } from './types.ts';

/** FuncInfo magic numbers (the compiler version that wrote the tables) and their sizes. */
const FUNC_INFO_SIZE: ReadonlyMap<number, number> = new Map([
  [0x19930520, 32],
  [0x19930521, 36],
  [0x19930522, 40],
]);
/** Bounds on table sizes: real functions are far below them; garbage is far above. */
const MAX_STATES = 1 << 16;
const MAX_ENTRIES = 1 << 16;

/** Parses forms `fh3` and `gs-fh3`. */
export function parseFh3(ctx: HandlerDataContext, dataRva: Rva, form: HandlerForm): Result<ParsedHandlerData> {
  if (form !== 'fh3' && form !== 'gs-fh3') return err('DIFF_EH_DATA', `parseFh3 cannot read form ${form}`);
  const img = ctx.image;
  const h = (n: number): string => `0x${n.toString(16)}`;
  const bad = (what: string): Result<never> => err('DIFF_EH_DATA', `FH3 FuncInfo for ${h(ctx.functionStart)}: ${what}`);
  const fi = readU32(img, dataRva);
  if (fi === null) return bad(`handler data at ${h(dataRva)} is outside the image`);
  let inlineLength = 4;
  if (form === 'gs-fh3') {
    const gs = gsDataLength(img, dataRva + 4, ctx.frameSize);
    if (!gs.ok) return gs;
    inlineLength += gs.value;
  }
  const magic = readU32(img, fi);
  const size = magic === null ? undefined : FUNC_INFO_SIZE.get(magic);
  if (size === undefined || fi + size > img.length || ctx.isCode(fi)) return bad(`no FuncInfo (magic 0x19930520..22) at ${h(fi)}`);
  const word = (k: number): number => readU32(img, fi + 4 * k)!;
  const maxState = readI32(img, fi + 4)!;
  const dispUnwindMap = word(2);
  const nTryBlocks = word(3);
  const dispTryBlockMap = word(4);
  const nIpMap = word(5);
  const dispIpMap = word(6);
  const dispEsTypeList = size >= 36 ? word(8) : 0;
  if (maxState < 0 || maxState > MAX_STATES || nTryBlocks > MAX_ENTRIES || nIpMap > MAX_ENTRIES) return bad(`implausible counts (maxState ${maxState}, ${nTryBlocks} try blocks, ${nIpMap} IP-map entries)`);

  const structures: HandlerStructure[] = [];
  const funclets: number[] = [];
  const funcInfoFields: HandlerRvaField[] = [];
  /** A table of `count` entries of `size` bytes at `rva`; null when it is not inside the image. */
  const table = (rva: number, count: number, entry: number, what: string): Result<HandlerStructure | null> => {
    if (count === 0) return rva === 0 ? ok(null) : bad(`${what} at ${h(rva)} has no entries`);
    if (rva === 0 || rva + count * entry > img.length || ctx.isCode(rva)) return bad(`${what} at ${h(rva)} (${count} entries) is not inside the image's data`);
    return ok({ rva: asRva(rva), length: count * entry, fields: [] }); // a u32 field inside the image
  };
  const funclet = (rva: number, what: string): Result<void> => {
    if (!ctx.isFunctionStart(rva)) return bad(`${what} ${h(rva)} is not the start of a .pdata entry`);
    if (!funclets.includes(rva)) funclets.push(rva);
    return ok(undefined);
  };
  /** HandlerType array: TypeDescriptors are data, handlers are funclets. */
  const handlerTypes = (s: HandlerStructure, count: number, what: string): Result<void> => {
    const fields = s.fields as HandlerRvaField[];
    for (let i = 0; i < count; i++) {
      const e = s.rva + 20 * i;
      const type = readU32(img, e + 4)!;
      const handler = readU32(img, e + 12)!;
      if (type !== 0) {
        if (!ctx.isData(type)) return bad(`${what} ${i} catches type ${h(type)}, which is not in a data section`);
        fields.push({ offset: 20 * i + 4, target: type, role: 'data' });
      }
      if (handler !== 0) {
        const r = funclet(handler, `${what} ${i} handler`);
        if (!r.ok) return r;
        fields.push({ offset: 20 * i + 12, target: handler, role: 'function' });
      } else if (what.startsWith('catch')) return bad(`${what} ${i} has no handler`);
    }
    return ok(undefined);
  };

  const funcInfo: HandlerStructure = { rva: asRva(fi), length: size, fields: funcInfoFields }; // a u32 field, FuncInfo inside the image
  structures.push(funcInfo);
  const um = table(dispUnwindMap, maxState, 8, 'unwind map');
  if (!um.ok) return um;
  if (um.value !== null) {
    funcInfoFields.push({ offset: 8, target: dispUnwindMap, role: 'table' });
    const fields = um.value.fields as HandlerRvaField[];
    for (let i = 0; i < maxState; i++) {
      const toState = readI32(img, dispUnwindMap + 8 * i)!;
      if (toState < -1 || toState >= maxState) return bad(`unwind map entry ${i} goes to state ${toState}`);
      const action = readU32(img, dispUnwindMap + 8 * i + 4)!;
      if (action === 0) continue;
      const r = funclet(action, `unwind action ${i}`);
      if (!r.ok) return r;
      fields.push({ offset: 8 * i + 4, target: action, role: 'function' });
    }
    structures.push(um.value);
  }
  const tb = table(dispTryBlockMap, nTryBlocks, 20, 'try-block map');
  if (!tb.ok) return tb;
  if (tb.value !== null) {
    funcInfoFields.push({ offset: 16, target: dispTryBlockMap, role: 'table' });
    structures.push(tb.value);
    const fields = tb.value.fields as HandlerRvaField[];
    for (let i = 0; i < nTryBlocks; i++) {
      const e = dispTryBlockMap + 20 * i;
      const tryLow = readI32(img, e)!;
      const tryHigh = readI32(img, e + 4)!;
      const catchHigh = readI32(img, e + 8)!;
      const nCatches = readU32(img, e + 12)!;
      const arr = readU32(img, e + 16)!;
      if (tryLow < 0 || tryLow > tryHigh || tryHigh > catchHigh || catchHigh > maxState || nCatches > MAX_ENTRIES) return bad(`try block ${i} has implausible states ${tryLow}..${tryHigh}..${catchHigh} (${nCatches} catches)`);
      const ha = table(arr, nCatches, 20, `try block ${i} handler array`);
      if (!ha.ok) return ha;
      if (ha.value === null) continue;
      fields.push({ offset: 20 * i + 16, target: arr, role: 'table' });
      const r = handlerTypes(ha.value, nCatches, `catch of try block ${i}, handler`);
      if (!r.ok) return r;
      structures.push(ha.value);
    }
  }
  const ip = table(dispIpMap, nIpMap, 8, 'IP-to-state map');
  if (!ip.ok) return ip;
  if (ip.value !== null) {
    funcInfoFields.push({ offset: 24, target: dispIpMap, role: 'table' });
    const fields = ip.value.fields as HandlerRvaField[];
    let prev = -1;
    for (let i = 0; i < nIpMap; i++) {
      const at = readU32(img, dispIpMap + 8 * i)!;
      const state = readI32(img, dispIpMap + 8 * i + 4)!;
      // Entries are sorted (the handler binary-searches them) and name code.
      if (!ctx.isCode(at) || at < prev || state < -1 || state >= maxState) return bad(`IP-to-state entry ${i} (${h(at)} -> ${state}) is not plausible`);
      prev = at;
      fields.push({ offset: 8 * i, target: at, role: 'code' });
    }
    structures.push(ip.value);
  }
  if (dispEsTypeList !== 0) {
    const es = table(dispEsTypeList, 1, 8, 'exception-specification list');
    if (!es.ok) return es;
    const n = readI32(img, dispEsTypeList)!;
    const arr = readU32(img, dispEsTypeList + 4)!;
    if (n < 0 || n > MAX_ENTRIES) return bad(`exception-specification list has ${n} types`);
    const types = table(arr, n, 20, 'exception-specification types');
    if (!types.ok) return types;
    funcInfoFields.push({ offset: 32, target: dispEsTypeList, role: 'table' });
    if (types.value !== null) {
      (es.value!.fields as HandlerRvaField[]).push({ offset: 4, target: arr, role: 'table' });
      const r = handlerTypes(types.value, n, 'exception-specification type');
      if (!r.ok) return r;
    }
    structures.push(es.value!);
    if (types.value !== null) structures.push(types.value);
  }
  return ok({ form, inline: { rva: dataRva, length: inlineLength, fields: [{ offset: 0, target: fi, role: 'table' }] }, structures, funclets });
}
