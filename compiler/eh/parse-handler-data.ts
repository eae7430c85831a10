/**
 * The exception-handler data of one UNWIND_INFO, whatever wrote it: the handler routine is
 * classified (by its import or symbol name when it has one, else by the shape of the data of
 * ALL the functions that use it), then the data is read by the parser registered for that
 * form in HANDLER_PARSERS. Everything downstream (normalisation, verdicts, emission, the
 * verifier) reads handler data through `parseHandlerData`, so a form is carried everywhere
 * or nowhere.
 *
 * Registration point: HANDLER_PARSERS maps a form to its parser, and SHAPE_FORMS lists the
 * forms a nameless (statically linked) handler may be recognised as by shape.
 */
import { rvaAdd, type Rva } from '../../common/types.ts';
import type { FunctionInfo, FunctionTable } from '../image/types.ts';
import { sectionAt, type MappedImage } from '../image/map-image.ts';
import { thunkImport } from '../image/import-thunks.ts';
import type { RuntimeFunction } from '../../runtime/pe/types.ts';
import { parseCScope } from './c-scope.ts';
import { parseFh3 } from './fh3.ts';
import { parseFh4Handler } from './fh4.ts';
import { parseGs } from './gs.ts';
import { readU32 } from './read.ts';
import type { HandlerDataContext, HandlerForm, HandlerParser, ParsedHandlerData } from './types.ts';

/** The parser of each form this compiler carries. A form with no entry is refused. */
export const HANDLER_PARSERS: { readonly [F in HandlerForm]?: HandlerParser } = {
  gs: parseGs,
  'c-scope': parseCScope,
  'gs-c-scope': parseCScope,
  fh3: parseFh3,
  'gs-fh3': parseFh3,
  fh4: parseFh4Handler,
  'gs-fh4': parseFh4Handler,
};

/**
 * Forms a handler with no name may be recognised as, when the data of every function using
 * it parses as that form (and as no other, except that `gs-X` wins over `X`: see classify).
 */
export const SHAPE_FORMS: readonly HandlerForm[] = ['fh3', 'gs-fh3', 'fh4', 'gs-fh4', 'c-scope', 'gs-c-scope', 'gs'];

/** Handler routine names (imported, or symbols of static copies) and the data they read. */
const FORM_BY_NAME: ReadonlyMap<string, HandlerForm> = new Map([
  ['__CxxFrameHandler3', 'fh3'],
  ['__CxxFrameHandler', 'fh3'],
  ['__C_specific_handler', 'c-scope'],
  ['__GSHandlerCheck', 'gs'],
  ['__GSHandlerCheck_SEH', 'gs-c-scope'],
  ['__GSHandlerCheck_EH', 'gs-fh3'],
  ['__CxxFrameHandler4', 'fh4'],
  ['__GSHandlerCheck_EH4', 'gs-fh4'],
]);

/** How a handler routine was classified. */
export type HandlerClass =
  | { readonly kind: 'msvc'; readonly form: HandlerForm; readonly by: 'name' | 'shape'; readonly name: string | null }
  /** Not an MSVC handler this compiler knows (a GCC personality, or unknown): `why` says. */
  | { readonly kind: 'other'; readonly why: string };

/** The handler data of one .pdata entry. */
export type HandlerDataResult =
  | { readonly kind: 'msvc'; readonly data: ParsedHandlerData }
  /** Not MSVC data: the caller may try a GCC LSDA; `why` is the reason if that fails too. */
  | { readonly kind: 'other'; readonly why: string }
  | { readonly kind: 'refused'; readonly reason: string };

interface Classifier {
  readonly starts: ReadonlySet<number>;
  readonly classes: Map<number, HandlerClass>;
  readonly users: ReadonlyMap<number, ReadonlyArray<readonly [FunctionInfo, RuntimeFunction]>>;
  readonly parsed: Map<string, HandlerDataResult>;
}

const cache = new WeakMap<FunctionTable, Classifier>();

function classifierOf(img: MappedImage, fns: FunctionTable): Classifier {
  let c = cache.get(fns);
  if (c !== undefined) return c;
  const starts = new Set<number>();
  const users = new Map<number, Array<readonly [FunctionInfo, RuntimeFunction]>>();
  for (const f of fns.functions) {
    for (const rf of f.pdata) {
      starts.add(rf.beginAddress);
      const u = rf.unwind;
      if (u === null || (u.flags & 3) === 0 || (u.flags & 4) !== 0 || u.handler === null) continue;
      const list = users.get(u.handler) ?? [];
      list.push([f, rf]);
      users.set(u.handler, list);
    }
  }
  c = { starts, classes: new Map(), users, parsed: new Map() };
  cache.set(fns, c);
  void img;
  return c;
}

/** The parser context for the data of `rf`, a .pdata entry of `f`. */
export function handlerContext(img: MappedImage, fns: FunctionTable, f: FunctionInfo, rf: RuntimeFunction): HandlerDataContext {
  const c = classifierOf(img, fns);
  return {
    image: img.image,
    functionStart: rf.beginAddress,
    ranges: f.ranges,
    isFunctionStart: (rva) => c.starts.has(rva),
    isCode: (rva) => sectionAt(img, rva)?.executable === true,
    isData: (rva) => {
      const s = sectionAt(img, rva);
      return s !== undefined && !s.executable;
    },
    frameSize: rf.unwind === null ? null : frameSizeOf(rf.unwind.version, rf.unwind.unwindCodes),
  };
}

/**
 * Bytes the prolog described by `codes` (UNWIND_CODE slots) puts on the stack: pushes and
 * allocations. Null when a code is not one of the documented ones.
 */
export function frameSizeOf(version: number, codes: readonly number[]): number | null {
  let size = 0;
  for (let i = 0; i < codes.length; ) {
    const c = codes[i]!;
    const op = (c >> 8) & 0xf;
    const info = (c >> 12) & 0xf;
    switch (op) {
      case 0: // UWOP_PUSH_NONVOL
        size += 8;
        i += 1;
        break;
      case 1: // UWOP_ALLOC_LARGE
        if (info === 0) {
          if (i + 1 >= codes.length) return null;
          size += codes[i + 1]! * 8;
          i += 2;
        } else if (info === 1) {
          if (i + 2 >= codes.length) return null;
          size += codes[i + 1]! + codes[i + 2]! * 0x10000;
          i += 3;
        } else return null;
        break;
      case 2: // UWOP_ALLOC_SMALL
        size += info * 8 + 8;
        i += 1;
        break;
      case 3: // UWOP_SET_FPREG
        i += 1;
        break;
      case 4: // UWOP_SAVE_NONVOL
      case 8: // UWOP_SAVE_XMM128
        i += 2;
        break;
      case 5: // UWOP_SAVE_NONVOL_FAR
      case 9: // UWOP_SAVE_XMM128_FAR
        i += 3;
        break;
      case 6: // UWOP_EPILOG (version 2): epilog descriptors, no stack effect
        if (version !== 2) return null;
        i += 1;
        break;
      case 10: // UWOP_PUSH_MACHFRAME
        size += info === 0 ? 40 : 48;
        i += 1;
        break;
      default:
        return null;
    }
  }
  return size;
}

/** The name of handler routine `h`: the import an `FF 25` thunk (maybe behind `E9` jumps) reaches, or a symbol. */
function handlerName(img: MappedImage, fns: FunctionTable, h: number): string | null {
  let at = h;
  for (let hops = 0; hops < 4; hops++) {
    const b0 = img.image[at];
    const b1 = img.image[at + 1];
    if (b0 === 0xff && b1 === 0x25) return thunkImport(img, at)?.symbol ?? null;
    if (b0 === 0xe9) {
      const d = readU32(img.image, at + 1);
      if (d === null) return null;
      at = at + 5 + (d | 0);
      continue;
    }
    break;
  }
  const g = fns.containing(at);
  if (g === undefined || g.entry !== at) return null;
  for (const n of g.names) if (FORM_BY_NAME.has(n.replace(/^_(?=__)/, ''))) return n.replace(/^_(?=__)/, '');
  return g.name;
}

/** Classifies handler routine `h` of `img` (memoised per image). */
export function classifyHandler(img: MappedImage, fns: FunctionTable, h: number): HandlerClass {
  const c = classifierOf(img, fns);
  const hit = c.classes.get(h);
  if (hit !== undefined) return hit;
  const name = handlerName(img, fns, h);
  let cls: HandlerClass;
  const named = name === null ? undefined : FORM_BY_NAME.get(name);
  if (named !== undefined) cls = { kind: 'msvc', form: named, by: 'name', name };
  else if (name !== null) cls = { kind: 'other', why: `handler ${name} is not an MSVC handler this compiler knows` };
  else {
    // No name: the form every user's data fits. Parsing is strict (magic numbers, entries
    // inside their function, funclets at .pdata starts), so garbage fits nothing.
    const users = c.users.get(h) ?? [];
    const fits = SHAPE_FORMS.filter((form) => {
      const parse = HANDLER_PARSERS[form];
      if (parse === undefined || users.length === 0) return false;
      let any = false;
      for (const [f, rf] of users) {
        const r = parse(handlerContext(img, fns, f, rf), rf.unwind!.handlerData!, form);
        if (!r.ok) return false;
        if (r.value.inline.fields.length > 0 || r.value.structures.length > 0 || form === 'gs' || form === 'gs-c-scope') any = true;
      }
      // A scope table with no scopes in any user says nothing about the handler.
      return any;
    });
    // `gs-X` reads X, then GS data; when both fit, the GS words are there (copying them as
    // well is harmless for X, leaving them out would break `gs-X`).
    const pick = fits.filter((f) => !(fits.includes(`gs-${f}` as HandlerForm)));
    const at = `0x${h.toString(16)}`;
    if (pick.length === 1) cls = { kind: 'msvc', form: pick[0]!, by: 'shape', name: null };
    else if (pick.length === 0) cls = { kind: 'other', why: `handler ${at} has no name and its ${users.length} users' data fits no MSVC form` };
    else cls = { kind: 'other', why: `handler ${at} has no name and its users' data fits several forms (${pick.join(', ')})` };
  }
  c.classes.set(h, cls);
  return cls;
}

/**
 * The handler data of .pdata entry `rf` of function `f`, parsed; null when the entry has no
 * handler. Memoised per image.
 */
export function parseHandlerData(img: MappedImage, fns: FunctionTable, f: FunctionInfo, rf: RuntimeFunction): HandlerDataResult | null {
  const u = rf.unwind;
  if (u === null || (u.flags & 3) === 0 || (u.flags & 4) !== 0) return null;
  if (u.handler === null || u.handlerData === null) return { kind: 'refused', reason: 'exception handler RVA missing in unwind info' };
  const c = classifierOf(img, fns);
  const key = `${f.index}:${rf.unwindInfoAddress}`;
  const hit = c.parsed.get(key);
  if (hit !== undefined) return hit;
  const cls = classifyHandler(img, fns, u.handler);
  let res: HandlerDataResult;
  if (cls.kind === 'other') res = cls;
  else {
    const parse = HANDLER_PARSERS[cls.form];
    const what = cls.name ?? `handler 0x${u.handler.toString(16)} (${cls.form} by shape)`;
    if (parse === undefined) res = { kind: 'refused', reason: `exception handler data of ${what} (form ${cls.form}) is not carried by this compiler` };
    else {
      const r = parse(handlerContext(img, fns, f, rf), u.handlerData, cls.form);
      res = r.ok ? { kind: 'msvc', data: r.value } : { kind: 'refused', reason: `exception handler data of ${what}: ${r.error.message}` };
    }
  }
  c.parsed.set(key, res);
  return res;
}

/** Every RVA field of parsed handler data, with the structure it is in (-1: inline). */
export function handlerFields(d: ParsedHandlerData): Array<{ readonly structure: number; readonly rva: Rva; readonly field: ParsedHandlerData['inline']['fields'][number] }> {
  const out: Array<{ structure: number; rva: Rva; field: ParsedHandlerData['inline']['fields'][number] }> = [];
  for (const x of d.inline.fields) out.push({ structure: -1, rva: rvaAdd(d.inline.rva, x.offset), field: x });
  d.structures.forEach((s, i) => {
    for (const x of s.fields) out.push({ structure: i, rva: rvaAdd(s.rva, x.offset), field: x });
  });
  return out;
}

