/**
 * FH4 (compressed FuncInfo4) handler data over real bytes: every FH4 user of the MSVC-built
 * sharp and @parcel/watcher modules parses, every RVA field lands where its role says, the
 * function-relative offsets stay inside the function, and each structure re-encodes to the
 * exact image bytes (so the lengths the emitter copies are right). Then crafted and fuzzed
 * data: refusals with reasons, never a throw, and whatever parses keeps those properties.
 * Files the cache cannot provide are skipped with the reason.
 */
import { describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { asRva, type Rva } from '../../common/types.ts';
import { parsePe } from '../../runtime/pe/parse-pe.ts';
import type { RuntimeFunction } from '../../runtime/pe/types.ts';
import { mapImage, sectionAt, type MappedImage } from '../image/map-image.ts';
import { fetchRealFile, realFiles } from '../../samples/real/real-files.ts';
import { mulberry32 } from '../../test/support/prng.ts';
import { frameSizeOf } from './parse-handler-data.ts';
import {
  decodeFh4Compressed,
  encodeFh4Compressed,
  encodeFh4Structure,
  fh4FormHint,
  parseFh4,
  type Fh4Context,
  type ParsedFh4,
} from './fh4.ts';

const UNW_FLAG_EHANDLER = 1;
const UNW_FLAG_UHANDLER = 2;
const UNW_FLAG_CHAININFO = 4;
const FH3_MAGICS = new Set([0x19930520, 0x19930521, 0x19930522]);

interface Loaded {
  readonly img: MappedImage;
  readonly pdata: readonly RuntimeFunction[];
  readonly starts: ReadonlySet<number>;
}

function load(path: string): Loaded {
  const bytes = new Uint8Array(readFileSync(path));
  const pe = parsePe(bytes);
  if (!pe.ok) throw new Error(pe.error.message);
  const img = mapImage(bytes, pe.value);
  if (!img.ok) throw new Error(img.error.message);
  return { img: img.value, pdata: pe.value.exceptions, starts: new Set<number>(pe.value.exceptions.map((r) => r.beginAddress)) };
}

function contextOf(l: Loaded, r: RuntimeFunction, image: Uint8Array = l.img.image): Fh4Context {
  return {
    image,
    functionStart: r.beginAddress,
    ranges: [{ start: r.beginAddress, end: r.endAddress }],
    isFunctionStart: (x) => l.starts.has(x),
    isCode: (x) => sectionAt(l.img, x)?.executable === true,
    isData: (x) => {
      const s = sectionAt(l.img, x);
      return s !== undefined && !s.executable;
    },
    frameSize: r.unwind === null ? null : frameSizeOf(r.unwind.version, r.unwind.unwindCodes),
  };
}

function u32(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
}

interface Fh4User {
  readonly fn: RuntimeFunction;
  readonly dataRva: Rva;
  readonly form: 'fh4' | 'gs-fh4';
}

/**
 * The FH4 users of an image, found without the parser: handler routines all of whose users'
 * handler data starts with the RVA of a FuncInfo4, placed right after the data (as MSVC lays
 * it out) for nearly all of them, whose header has the reserved bit clear and which is not an FH3 FuncInfo (magic).
 * A routine's users must agree on the form (with or without GS data).
 */
function fh4Users(l: Loaded): { readonly handlers: ReadonlyMap<number, Fh4User[]>; readonly users: Fh4User[] } {
  const byHandler = new Map<number, Array<{ fn: RuntimeFunction; dataRva: Rva }>>();
  for (const r of l.pdata) {
    const u = r.unwind;
    if (u === null || (u.flags & (UNW_FLAG_EHANDLER | UNW_FLAG_UHANDLER)) === 0 || (u.flags & UNW_FLAG_CHAININFO) !== 0) continue;
    if (u.handler === null || u.handlerData === null) continue;
    const list = byHandler.get(u.handler) ?? [];
    list.push({ fn: r, dataRva: u.handlerData });
    byHandler.set(u.handler, list);
  }
  const handlers = new Map<number, Fh4User[]>();
  const image = l.img.image;
  for (const [h, list] of byHandler) {
    // Identical FuncInfo4s are folded by the linker, so a few users point at another
    // function's copy (no hint); the rest must agree, and be the great majority.
    const hinted = list.map((x) => fh4FormHint(image, x.dataRva)).filter((f) => f !== null);
    const form = hinted[0];
    if (form === undefined || hinted.some((f) => f !== form) || hinted.length * 10 < list.length * 9) continue;
    const plausible = list.every((x) => {
      const fi = u32(image, x.dataRva);
      return fi + 4 <= image.length && (image[fi]! & 0x80) === 0 && !FH3_MAGICS.has(u32(image, fi));
    });
    if (plausible) handlers.set(h, list.map((x) => ({ ...x, form })));
  }
  return { handlers, users: [...handlers.values()].flat() };
}

/** The properties every successful parse must have, whatever the bytes were. */
function checkParsed(l: Loaded, fn: RuntimeFunction, p: ParsedFh4, image: Uint8Array): void {
  const begin = fn.beginAddress;
  const end = fn.endAddress;
  const starts = new Set<number>(p.structures.map((s) => s.rva));
  const all = [p.inline, ...p.structures];
  for (const s of all) {
    expect(s.length).toBeGreaterThan(0);
    expect(s.rva + s.length).toBeLessThanOrEqual(image.length);
    expect(sectionAt(l.img, s.rva)?.executable).toBe(false);
    for (const f of s.fields) {
      expect(f.offset + 4).toBeLessThanOrEqual(s.length);
      expect(u32(image, s.rva + f.offset)).toBe(f.target);
      expect(f.target).toBeGreaterThan(0);
      expect(f.target).toBeLessThan(image.length);
      switch (f.role) {
        case 'table':
          expect(starts.has(f.target)).toBe(true);
          break;
        case 'function':
          expect(sectionAt(l.img, f.target)?.executable).toBe(true);
          break;
        case 'code':
          expect(f.target >= begin && f.target < end).toBe(true);
          break;
        case 'data':
          expect(sectionAt(l.img, f.target)?.executable).toBe(false);
          break;
      }
    }
  }
  // Structures are disjoint from each other and from the inline bytes.
  const sorted = [...all].sort((a, b) => a.rva - b.rva);
  for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.rva).toBeGreaterThanOrEqual(sorted[i - 1]!.rva + sorted[i - 1]!.length);
  // Catch funclets start .pdata entries, and they are the funclets; unwind actions are code.
  const catches = new Set<number>();
  for (const d of p.decoded) {
    if (d.kind === 'handler-map') for (const h of d.entries) catches.add(h.dispOfHandler);
    if (d.kind === 'unwind-map') for (const e of d.entries) if (e.type !== 0) expect(sectionAt(l.img, e.action)?.executable).toBe(true);
  }
  for (const c of catches) expect(l.starts.has(c)).toBe(true);
  expect(new Set(p.funclets)).toEqual(catches);
  for (const r of p.relative) {
    const s = p.structures[r.structure]!;
    expect(r.offset + r.length).toBeLessThanOrEqual(s.length);
    expect(begin + r.functionOffset).toBeLessThanOrEqual(end);
    if (r.kind === 'continuation') expect(begin + r.functionOffset).toBeLessThan(end);
  }
}

/** The MSVC-built C++ modules (the sharp package also ships mingw-built libvips DLLs). */
const MSVC_CXX = realFiles().filter((f) => (f.package === '@img/sharp-win32-x64' || f.package === '@parcel/watcher-win32-x64') && f.path.endsWith('.node'));

describe.each(MSVC_CXX.map((f) => [`${f.package}@${f.version} ${f.path.split('/').pop() ?? ''}`, f] as const))('%s', (label, file) => {
  const got = fetchRealFile(file);
  const why = got.ok ? undefined : got.error.message;
  test.skipIf(why !== undefined)(`every FH4 user parses; fields, offsets and re-encoding check out${why === undefined ? '' : ` (skipped: ${why})`}`, { timeout: 120_000 }, () => {
    if (!got.ok) return;
    const l = load(got.value);
    const { handlers, users } = fh4Users(l);
    // sharp and watcher statically link both __CxxFrameHandler4 and __GSHandlerCheck_EH4.
    expect(new Set([...handlers.values()].map((u) => u[0]!.form))).toEqual(new Set(['fh4', 'gs-fh4']));
    expect(users.length).toBeGreaterThan(100);
    const byStart = new Map<number, RuntimeFunction>(l.pdata.map((r) => [r.beginAddress, r]));
    const failures: string[] = [];
    let structures = 0;
    let ipEntries = 0;
    let handlersSeen = 0;
    for (const u of users) {
      const p = parseFh4(contextOf(l, u.fn), u.dataRva, u.form);
      if (!p.ok) {
        failures.push(`${label} fn 0x${u.fn.beginAddress.toString(16)}: ${p.error.message}`);
        continue;
      }
      checkParsed(l, u.fn, p.value, l.img.image);
      expect(p.value.inline.length).toBe(u.form === 'fh4' ? 4 : (u32(l.img.image, u.dataRva + 4) & 4) !== 0 ? 16 : 8);
      for (const [i, s] of p.value.structures.entries()) {
        const d = p.value.decoded[i]!;
        expect(p.value.kinds[i]).toBe(d.kind);
        // Byte-exact round trip: the decoded structure re-encodes to the image's bytes.
        expect(Buffer.from(encodeFh4Structure(d)).toString('hex')).toBe(Buffer.from(l.img.image.subarray(s.rva, s.rva + s.length)).toString('hex'));
        structures++;
        if (d.kind === 'ip-to-state-map') {
          ipEntries += d.entries.length;
          for (let k = 1; k < d.entries.length; k++) expect(d.entries[k]!.offset).toBeGreaterThan(d.entries[k - 1]!.offset);
        }
        if (d.kind === 'handler-map') {
          handlersSeen += d.entries.length;
          // A catch funclet with FH4 data of its own (a try or a destructor inside the catch)
          // describes itself as a catch funclet: the roles of the parent's fields are right.
          for (const h of d.entries) {
            const fu = byStart.get(h.dispOfHandler)?.unwind;
            if (fu?.handler === null || fu?.handler === undefined || !handlers.has(fu.handler)) continue;
            const fi = u32(l.img.image, fu.handlerData!);
            expect(l.img.image[fi]! & 1).toBe(1);
          }
        }
      }
    }
    expect(failures).toEqual([]);
    expect(structures).toBeGreaterThan(users.length);
    expect(ipEntries).toBeGreaterThan(0);
    expect(handlersSeen).toBeGreaterThan(0);
  });
});

describe('compressed integers', () => {
  test('each length class round-trips at its edges', () => {
    const values = [0, 1, 127, 128, 16383, 16384, 2 ** 21 - 1, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 0xffff_ffff];
    const lengths = [1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5];
    for (const [i, v] of values.entries()) {
      const enc = Uint8Array.from(encodeFh4Compressed(v));
      expect(enc.length).toBe(lengths[i]);
      expect(decodeFh4Compressed(enc, 0)).toEqual({ value: v, length: enc.length });
      // One byte short is refused, not read past.
      expect(decodeFh4Compressed(enc.subarray(0, enc.length - 1), 0)).toBeNull();
    }
  });
});

/** A small image: code at 0x1000-0x2000, data from 0x2000; the function is 0x1000-0x1100. */
function craftedContext(image: Uint8Array, starts: readonly number[] = [0x1000, 0x1800]): Fh4Context {
  return {
    image,
    functionStart: asRva(0x1000),
    ranges: [{ start: asRva(0x1000), end: asRva(0x1100) }],
    isFunctionStart: (x) => starts.includes(x),
    isCode: (x) => x >= 0x1000 && x < 0x2000,
    isData: (x) => x >= 0x2000 && x < image.length,
    frameSize: 0x100,
  };
}

/** Writes bytes at `rva`, returns the position after them. */
function put(image: Uint8Array, rva: number, bytes: readonly number[]): number {
  image.set(bytes, rva);
  return rva + bytes.length;
}

const le = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const c = encodeFh4Compressed;

/**
 * handler data at 0x2000 -> FuncInfo4 at 0x2004 (unwind map, try map) with 2 states, one
 * try block (0..0, catch 1) whose handler catches a type at 0x2080 with funclet 0x1800 and
 * one function-relative continuation +0x40, and an IP map 0x10 -> 0, 0x20 -> 1, 0x30 -> -1.
 */
function craftedImage(): Uint8Array {
  const image = new Uint8Array(0x4000);
  put(image, 0x2000, le(0x2004));
  put(image, 0x2004, [0x18 | 0x20, ...le(0x2100), ...le(0x2200), ...le(0x2300)]);
  // unwind map: state 0 -> -1 (funclet 0x1900), state 1 -> state 0 (dtor 0x1a00 of object 0x28).
  let p = put(image, 0x2100, [...c(2)]);
  const e0 = p;
  p = put(image, p, [...c((2 << 2) | 3), ...le(0x1900)]);
  put(image, p, [...c(((p - e0) << 2) | 1), ...le(0x1a00), ...c(0x28)]);
  put(image, 0x2200, [...c(1), ...c(0), ...c(0), ...c(1), ...le(0x2400)]);
  put(image, 0x2400, [...c(1), 0x02 | 0x04 | 0x10, ...le(0x2080), ...c(0x30), ...le(0x1800), ...c(0x40)]);
  put(image, 0x2300, [...c(3), ...c(0x10), ...c(1), ...c(0x10), ...c(2), ...c(0x10), ...c(0)]);
  return image;
}

describe('crafted FuncInfo4', () => {
  test('a well-formed one gives every structure, field role and relative offset', () => {
    const image = craftedImage();
    const p = parseFh4(craftedContext(image), asRva(0x2000), 'fh4');
    expect(p.ok).toBe(true);
    if (!p.ok) return;
    expect(p.value.inline).toEqual({ rva: 0x2000, length: 4, fields: [{ offset: 0, target: 0x2004, role: 'table' }] });
    expect(p.value.kinds).toEqual(['func-info', 'unwind-map', 'try-block-map', 'handler-map', 'ip-to-state-map']);
    expect(p.value.structures.map((s) => [s.rva, s.length])).toEqual([
      [0x2004, 13],
      [0x2100, 1 + 5 + 6],
      [0x2200, 8],
      [0x2400, 1 + 1 + 4 + 1 + 4 + 1],
      [0x2300, 7],
    ]);
    expect(p.value.structures[1]!.fields.map((f) => [f.target, f.role])).toEqual([
      [0x1900, 'function'],
      [0x1a00, 'function'],
    ]);
    expect(p.value.structures[3]!.fields.map((f) => [f.target, f.role])).toEqual([
      [0x2080, 'data'],
      [0x1800, 'function'],
    ]);
    // The catch funclet goes with the function; the unwind funclet and the destructor are calls.
    expect(p.value.funclets).toEqual([0x1800]);
    expect(p.value.relative.map((r) => [r.kind, r.functionOffset])).toEqual([
      ['continuation', 0x40],
      ['ip-to-state', 0x10],
      ['ip-to-state', 0x20],
      ['ip-to-state', 0x30],
    ]);
    const uw = p.value.decoded[1]!;
    expect(uw.kind === 'unwind-map' && uw.entries.map((e) => e.toState)).toEqual([-1, 0]);
  });

  test('the GS form takes the cookie word (and the alignment words) inline', () => {
    const image = craftedImage();
    put(image, 0x1ff0, [...le(0x2004), ...le(0x40 | 4), ...le(0x20), ...le(0x10)]);
    const p = parseFh4(craftedContext(image), asRva(0x1ff0), 'gs-fh4');
    expect(p.ok && p.value.inline.length).toBe(16);
    expect(fh4FormHint(image, 0x2000)).toBe('fh4');
  });

  const refusals: ReadonlyArray<readonly [string, (image: Uint8Array) => void, RegExp]> = [
    ['separated code segments', (im) => void (im[0x2004] = 0x18 | 0x02), /separated/],
    ['the reserved header bit', (im) => void (im[0x2004] = 0x18 | 0x80), /reserved bit/],
    ['a catch funclet that starts no .pdata entry', (im) => put(im, 0x2400 + 7, le(0x1810)), /not a \.pdata function start/],
    ['a try block beyond the unwind states', (im) => put(im, 0x2200, [...c(1), ...c(0), ...c(1), ...c(2)]), /do not fit/],
    ['an unwind entry that unwinds to itself', (im) => put(im, 0x2101, [...c((0 << 2) | 3)]), /unwinds to itself/],
    ['an IP-to-state map past the function', (im) => put(im, 0x2300, [...c(1), ...c(0x200), ...c(1)]), /past the function/],
    ['an IP-to-state state beyond the unwind map', (im) => put(im, 0x2300 + 2, [...c(9)]), /names state/],
    ['a continuation outside the function', (im) => put(im, 0x2400 + 11, [...c(0x100)]), /outside the function/],
    ['a type descriptor in code', (im) => put(im, 0x2400 + 2, le(0x1000)), /type descriptor/],
    ['a FuncInfo4 outside the image', (im) => put(im, 0x2000, le(0x7fff_0000)), /outside the image/],
    ['an IP-to-state map that is the unwind map', (im) => put(im, 0x2004 + 9, le(0x2100)), /another structure/],
  ];
  test.each(refusals)('refuses %s with a reason', (_what, mutate, reason) => {
    const image = craftedImage();
    mutate(image);
    const p = parseFh4(craftedContext(image), asRva(0x2000), 'fh4');
    expect(p.ok).toBe(false);
    if (p.ok) return;
    expect(p.error.code).toBe('DIFF_EH_DATA');
    expect(p.error.message).toMatch(reason);
    expect(p.error.offset).toBeTypeOf('number');
  });

  test('truncated anywhere: an error value, never a throw', () => {
    const image = craftedImage();
    for (let end = 0x2000; end < 0x2410; end++) {
      const cut = image.subarray(0, end);
      const ctx = { ...craftedContext(cut), isData: (x: number) => x >= 0x2000 && x < 0x4000 };
      const p = parseFh4(ctx, asRva(0x2000), 'fh4');
      // The structures end at 0x240c: anything shorter cuts one of them.
      expect(p.ok).toBe(end >= 0x240c);
    }
  });
});

describe('fuzz', () => {
  const file = MSVC_CXX.find((f) => f.package === '@parcel/watcher-win32-x64');
  const got = file === undefined ? undefined : fetchRealFile(file);
  const why = got === undefined ? 'no watcher file in the manifest' : got.ok ? undefined : got.error.message;
  test.skipIf(why !== undefined)(`mutated real FH4 data never throws, and what parses still holds together${why === undefined ? '' : ` (skipped: ${why})`}`, { timeout: 120_000 }, () => {
    if (got === undefined || !got.ok) return;
    const l = load(got.value);
    const { users } = fh4Users(l);
    const rnd = mulberry32(0xf4f4);
    let refused = 0;
    let parsed = 0;
    for (let iter = 0; iter < 400; iter++) {
      const u = users[Math.floor(rnd() * users.length)]!;
      const base = parseFh4(contextOf(l, u.fn), u.dataRva, u.form);
      expect(base.ok).toBe(true);
      if (!base.ok) continue;
      const image = l.img.image.slice();
      const pieces = [base.value.inline, ...base.value.structures];
      for (let k = 1 + Math.floor(rnd() * 4); k > 0; k--) {
        const s = pieces[Math.floor(rnd() * pieces.length)]!;
        const at = s.rva + Math.floor(rnd() * s.length);
        image[at] = rnd() < 0.5 ? Math.floor(rnd() * 256) : image[at]! ^ (1 << Math.floor(rnd() * 8));
      }
      const p = parseFh4(contextOf(l, u.fn, image), u.dataRva, u.form);
      if (p.ok) {
        parsed++;
        checkParsed(l, u.fn, p.value, image);
      } else {
        refused++;
        expect(p.error.code).toBe('DIFF_EH_DATA');
      }
    }
    expect(refused).toBeGreaterThan(0);
    expect(parsed).toBeGreaterThan(0);
  });
});
