/**
 * Verification: proves a package does what the diff says, independently of how it was
 * emitted. The package is applied on paper to OLD loaded at an arbitrary base, with its
 * blocks at an arbitrary address within ±2 GB; then every carried function is read back
 * and compared, instruction for instruction, with the NEW function: equal bytes outside
 * reference fields, and every reference reaching what the NEW reference reaches, mapped
 * through the match (same function or global in OLD, the carried body, an old read-only
 * item with the same bytes or a carried copy, the same import). Unwind data, redirects and
 * jump tables are checked the same way.
 */
import { Code, Decoder, DecoderOptions, FlowControl, Instruction } from 'iced-x86';
import { err, ok, type Result } from '../../common/errors.ts';
import { applyDelta } from '../../formats/delta.ts';
import type { Fixup, HotpatchPackage } from '../../formats/package.ts';
import { sha256 } from '../../runtime/pe/sha256.ts';
import type { ImageDiff } from '../diff/diff-images.ts';
import { layoutRanges } from '../diff/diff-images.ts';
import { chainedParent } from '../functions/layout-parts.ts';
import type { FunctionInfo } from '../functions/discover-functions.ts';
import { absTarget, relocsIn } from '../functions/map-image.ts';
import { relativeEntryChecks } from './relative-entries.ts';
import { parseGccLsda } from '../emit/gcc-lsda.ts';
import { parseHandlerData } from '../eh/parse-handler-data.ts';
import type { HandlerRvaField, HandlerStructure, ParsedHandlerData } from '../eh/types.ts';
import { stringExtent } from '../match/normalise.ts';

/** Where the paper apply puts things (defaults are arbitrary, deliberately not the preferred base). */
export interface VerifyLayout {
  /** Base OLD is loaded at. */
  readonly imageBase: bigint;
  /** Address of the first block; must be within ±2 GB of the image. */
  readonly regionBase: bigint;
}

/** What verification checked. */
export interface VerifyReport {
  readonly functions: number;
  readonly instructions: number;
  readonly references: number;
  readonly unwindEntries: number;
  readonly redirects: number;
  readonly dataBlocks: number;
}

/** The default paper layout: an odd base and a region 1 GB below it. */
export const DEFAULT_VERIFY_LAYOUT: VerifyLayout = { imageBase: 0x7ff6_5a30_0000n, regionBase: 0x7ff6_1a20_0000n };

const FAKE_IMPORTS = 0x7ffd_0000_0000n;

/**
 * Verifies `pkg` against the diff it was built from (OLD, NEW and their match).
 * Returns VERIFY_* errors naming the first mismatch.
 */
export function verifyPackage(diff: ImageDiff, pkg: HotpatchPackage, layout: VerifyLayout = DEFAULT_VERIFY_LAYOUT): Result<VerifyReport> {
  const m = diff.match;
  const oldImg = m.old.img;
  const newImg = m.new.img;
  const B = layout.imageBase;
  const fail = (message: string): Result<never> => err('VERIFY_MISMATCH', message);
  const oldPe = oldImg.pe;
  // Changes the package declares it left out (--skip-refused, needing something refused).
  const leftOut = new Set(
    (pkg.producer.parameters.find((p) => p.key === 'left-out-new-rvas')?.value ?? '')
      .split(',')
      .filter((x) => x !== '')
      .map((x) => Number(x)),
  );

  if (pkg.target.timeDateStamp !== oldPe.fileHeader.timeDateStamp || pkg.target.sizeOfImage !== oldPe.optionalHeader.sizeOfImage) {
    return err('VERIFY_TARGET', 'package targets another image (TimeDateStamp/SizeOfImage differ from OLD)');
  }
  {
    const buf: number[] = [];
    for (const r of pkg.target.reliedRanges) for (let k = 0; k < r.length; k++) buf.push(oldImg.image[(r.rva as number) + k] ?? 0);
    const h = sha256(Uint8Array.from(buf));
    if (!h.every((b, i) => b === pkg.target.reliedSha256[i])) return err('VERIFY_TARGET', 'relied-on bytes hash does not match OLD');
  }

  // 1. Materialise blocks at their paper addresses. A package with image-relative fixups is
  // placed by the runtime above the image, within 2 GB of its base; so is the paper copy.
  const imageRelative = [...pkg.codeBlocks, ...pkg.dataBlocks].some((b) => b.fixups.some((f) => f.kind === 'imagerel32'));
  const sizeOfImage = BigInt(oldPe.optionalHeader.sizeOfImage);
  const regionBase = imageRelative && layout.regionBase < B + sizeOfImage ? B + ((sizeOfImage + 0xffffn) & ~0xffffn) + 0x0123_0000n : layout.regionBase;
  const blocks = new Map<number, { addr: bigint; bytes: Uint8Array }>();
  let at = regionBase;
  const materialise = (id: number, alignment: number, b: HotpatchPackage['codeBlocks'][number]['bytes']): Result<void> => {
    let bytes: Uint8Array;
    if (b.kind === 'literal') bytes = b.bytes.slice();
    else {
      const base = oldImg.image.subarray(b.base.rva as number, (b.base.rva as number) + b.base.length);
      const h = sha256(base);
      if (!h.every((x, i) => x === b.baseSha256[i])) return fail(`block ${id}: delta base hash does not match OLD`);
      const r = applyDelta(base, b.ops, b.size);
      if (!r.ok) return r;
      bytes = r.value;
    }
    const a = BigInt(alignment);
    at = ((at + a - 1n) / a) * a;
    blocks.set(id, { addr: at, bytes });
    at += BigInt(bytes.length);
    return ok(undefined);
  };
  for (const c of pkg.codeBlocks) {
    const r = materialise(c.id, c.alignment, c.bytes);
    if (!r.ok) return r;
  }
  for (const d of pkg.dataBlocks) {
    const r = materialise(d.id, d.alignment, d.bytes);
    if (!r.ok) return r;
  }
  at = (at + 7n) & ~7n;
  const slotAddr = pkg.imports.map((_, i) => at + BigInt(8 * i));
  // Unwind info goes after the import slots, inside the region (pc-relative LSDA fields reach).
  let unwindAt = at + BigInt(8 * pkg.imports.length);
  const importAddr = pkg.imports.map((_, i) => FAKE_IMPORTS + BigInt(0x100 * i));
  const unwindBase = regionBase < B ? regionBase : B;
  // `infoAddr`: where the unwind info a fixup sits in is placed (null outside unwind data).
  const resolveS = (t: Fixup['target'], infoAddr: bigint | null, infoLen: number): bigint | null => {
    switch (t.kind) {
      case 'unwind':
        return infoAddr === null || t.offset > infoLen ? null : infoAddr + BigInt(t.offset);
      case 'image':
        return B + BigInt(t.rva as number);
      case 'block': {
        const b = blocks.get(t.blockId);
        return b === undefined ? null : b.addr + BigInt(t.offset);
      }
      case 'import-slot':
        return slotAddr[t.index] ?? null;
      case 'import-address':
        return importAddr[t.index] ?? null;
    }
  };
  const applyFix = (bytes: Uint8Array, P0: bigint, f: Fixup, what: string, inUnwind = false): Result<bigint> => {
    const S = resolveS(f.target, inUnwind ? P0 : null, bytes.length);
    if (S === null) return fail(`${what}: fixup target does not exist`);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const P = P0 + BigInt(f.offset);
    let v: bigint;
    switch (f.kind) {
      case 'rel32':
      case 'rip-disp32':
        v = S + f.addend - P;
        if (v < -(2n ** 31n) || v >= 2n ** 31n) return fail(`${what}: rel32 out of range`);
        dv.setInt32(f.offset, Number(v), true);
        break;
      case 'rel8':
        v = S + f.addend - P;
        if (v < -128n || v > 127n) return fail(`${what}: rel8 out of range`);
        dv.setInt8(f.offset, Number(v));
        break;
      case 'abs64':
        dv.setBigUint64(f.offset, S + f.addend, true);
        break;
      case 'addr32nb':
        v = S + f.addend - unwindBase;
        if (v < 0n || v > 0xffffffffn) return fail(`${what}: addr32nb out of range`);
        dv.setUint32(f.offset, Number(v), true);
        break;
      case 'imagerel32':
        v = S + f.addend - B;
        if (v < 0n || v > 0x7fffffffn) return fail(`${what}: imagerel32 out of range`);
        dv.setUint32(f.offset, Number(v), true);
        break;
    }
    return ok(S);
  };
  for (const c of pkg.codeBlocks) {
    const b = blocks.get(c.id)!;
    for (const f of c.fixups) {
      const r = applyFix(b.bytes, b.addr, f, `block ${c.id}`);
      if (!r.ok) return r;
    }
  }
  for (const d of pkg.dataBlocks) {
    const b = blocks.get(d.id)!;
    for (const f of d.fixups) {
      const r = applyFix(b.bytes, b.addr, f, `data block ${d.id}`);
      if (!r.ok) return r;
    }
  }

  // 2. The map from NEW addresses to patched-OLD addresses the package must realise.
  const carried = new Map<number, { fn: FunctionInfo; addr: bigint; offsets: number[] }>();
  for (const rec of pkg.functions) {
    const fn = m.new.fns.byEntry.get(rec.newRva as number);
    const b = blocks.get(rec.blockId);
    if (fn === undefined || b === undefined) return fail(`function record ${rec.name ?? rec.newRva}: no such new function or block`);
    carried.set(fn.index, { fn, addr: b.addr + BigInt(rec.blockOffset), offsets: layoutRanges(fn) });
  }
  const readAt = (addr: bigint, len: number): Uint8Array | null => {
    if (addr >= B && addr + BigInt(len) <= B + BigInt(oldImg.image.length)) {
      const o = Number(addr - B);
      return relocatedOld(o, len);
    }
    for (const b of blocks.values()) {
      if (addr >= b.addr && addr + BigInt(len) <= b.addr + BigInt(b.bytes.length)) {
        const o = Number(addr - b.addr);
        return b.bytes.subarray(o, o + len);
      }
    }
    return null;
  };
  /** OLD bytes as loaded at B (base relocations applied). */
  const relocatedOld = (o: number, len: number): Uint8Array => {
    const out = oldImg.image.slice(o, o + len);
    const delta = B - oldImg.imageBase;
    for (const rel of relocsIn(oldImg, o - 7, o + len)) {
      if (oldImg.relocs.get(rel) !== 10) continue;
      const full = new DataView(oldImg.image.buffer, oldImg.image.byteOffset).getBigUint64(rel, true) + delta;
      const tmp = new Uint8Array(8);
      new DataView(tmp.buffer).setBigUint64(0, BigInt.asUintN(64, full), true);
      for (let k = 0; k < 8; k++) if (rel + k >= o && rel + k < o + len) out[rel + k - o] = tmp[k]!;
    }
    return out;
  };
  const newRelocated = (rva: number): bigint | null => {
    const t = absTarget(newImg, rva, 10);
    return t < 0 ? null : BigInt(t);
  };

  /** Checks that actual address `A` is a correct image of NEW address `t`. */
  // Each read-only item of NEW the package reaches has exactly one image (its placement): the
  // start and the end of an array must land in the same copy, or a `p != end` loop runs off.
  // Pointer graphs in read-only data have cycles (type_info <-> vtables): an item already
  // placed is assumed to hold (coinduction); any mismatch elsewhere still fails.
  const placed = new Map<string, bigint>();
  const pending: Array<{ t: number; A: bigint; what: string; fromOld: boolean }> = [];
  const describe = (rva: number): string => `read-only data at 0x${rva.toString(16)}`;
  /** Checks `t` -> `A` and every pointer obligation it uncovers. */
  const checkTarget = (t: number, A: bigint, what: string): Result<void> => {
    let r = checkOne(t, A, what);
    while (r.ok && pending.length > 0) {
      const o = pending.pop()!;
      r = checkOne(o.t, o.A, `${what} -> pointer in ${o.what}`, o.fromOld);
    }
    pending.length = 0;
    return r;
  };
  // `fromOld`: the obligation comes from a pointer inside OLD's own data, not from the package;
  // such an item may have its own image in OLD besides the one the package gives it.
  const checkOne = (t: number, A: bigint, what: string, fromOld = false): Result<void> => {
    const g = m.new.fns.containing(t);
    if (t === 0) return A === B ? ok(undefined) : fail(`${what}: expected __ImageBase`);
    if (t < newImg.pe.optionalHeader.sizeOfHeaders && newImg.sections.every((s) => t < s.rva)) {
      return A === B + BigInt(t) ? ok(undefined) : fail(`${what}: expected the PE headers +0x${t.toString(16)}`);
    }
    const imp = newImg.iat.get(t);
    if (imp !== undefined) {
      for (const [slot, o] of oldImg.iat) if (o.dll === imp.dll && o.symbol === imp.symbol && A === B + BigInt(slot)) return ok(undefined);
      const i = pkg.imports.findIndex((x) => x.dll === imp.dll && (x.symbol.kind === 'name' ? x.symbol.name : `#${x.symbol.ordinal}`) === imp.symbol);
      return i >= 0 && A === slotAddr[i] ? ok(undefined) : fail(`${what}: does not reach import ${imp.dll}!${imp.symbol}`);
    }
    if (g !== undefined) {
      const c = carried.get(g.index);
      if (c !== undefined) {
        for (let i = 0; i < g.ranges.length; i++) {
          const r = g.ranges[i]!;
          if (t >= r.start && t < r.end && A === c.addr + BigInt(c.offsets[i]! + (t - r.start))) return ok(undefined);
        }
        // The old entry of a replaced function is as good: its redirect leads to the body.
        const o = m.fnNewToOld[g.index]!;
        if (t === g.entry && o >= 0) {
          const oe = m.old.fns.functions[o]!.entry;
          const rd = pkg.redirects.find((r) => (r.oldRva as number) === oe);
          const rec = pkg.functions.find((r) => (r.newRva as number) === g.entry);
          if (rd !== undefined && rec !== undefined && rd.target.blockId === rec.blockId && rd.target.offset === rec.blockOffset && A === B + BigInt(oe)) return ok(undefined);
        }
        return fail(`${what}: does not reach the carried body of ${g.name ?? `0x${g.entry.toString(16)}`}`);
      }
      const o = m.fnNewToOld[g.index]!;
      if (o < 0) return fail(`${what}: reaches a new function the package does not carry`);
      const og = m.old.fns.functions[o]!;
      // Reaching the old function is right only when it is unchanged (or a refused change the
      // package leaves out on purpose, which the build reported).
      const st = diff.newStatus[g.index];
      const skipped = leftOut.has(g.entry) || diff.functions.some((x) => x.newIndex === g.index && x.verdict === 'refused');
      if (st !== 'unchanged' && !skipped) return fail(`${what}: reaches old ${g.name ?? `0x${g.entry.toString(16)}`}, which changed`);
      if (st === 'unchanged' && m.oldNorm.functionForm(og, 'exact') !== m.newNorm.functionForm(g, 'exact')) return fail(`${what}: old and new ${g.name ?? ''} differ`);
      for (let i = 0; i < g.ranges.length; i++) {
        const r = g.ranges[i]!;
        const or = og.ranges[i];
        if (t >= r.start && t < r.end && or !== undefined && A === B + BigInt(or.start + (t - r.start))) return ok(undefined);
      }
      return fail(`${what}: does not reach old ${g.name ?? `0x${og.entry.toString(16)}`}`);
    }
    const item = m.new.itemAt(t);
    if (item === undefined) {
      const edge = newImg.sections.find((s) => s.rva + s.size === t);
      const oe = edge === undefined ? undefined : oldImg.sections.find((s) => s.name === edge.name);
      if (oe === undefined || A !== B + BigInt(oe.rva + oe.size)) return fail(`${what}: NEW target 0x${t.toString(16)} is not a known object`);
      // A section's end is also one past the end of its last item: that reading must hold too.
      const last = m.new.itemAt(t - 1);
      return last === undefined || last.end !== t ? ok(undefined) : endOf(last, A, what, fromOld);
    }
    if (item.writable) {
      const o = m.itemNewToOld[item.index]!;
      const oi = o < 0 ? undefined : m.old.items[o];
      if (oi === undefined || A !== B + BigInt(oi.start + (t - item.start))) return fail(`${what}: does not reach the matched old global`);
      const prev = t === item.start ? m.new.items[item.index - 1] : undefined;
      return prev !== undefined && prev.writable && prev.end === t && prev.section === item.section ? endOf(prev, A, what, fromOld) : ok(undefined);
    }
    // Read-only: `t` means (item, offset). Item extents are inferred, so an address that
    // starts an item may equally be one past the end of the read-only item just before it
    // (`&table[N]`): the image must then hold both, the previous item ending exactly at A.
    const prev = t === item.start ? m.new.items[item.index - 1] : undefined;
    if (prev !== undefined && !prev.writable && prev.end === t && prev.section === item.section) {
      const r = endOf(prev, A, what, fromOld);
      if (!r.ok) return r;
    }
    return placeItem(item, A - BigInt(t - item.start), what, fromOld);
  };
  /** Checks that `A` is one past the end of the image of NEW item `item`. */
  const endOf = (item: (typeof m.new.items)[number], A: bigint, what: string, fromOld: boolean): Result<void> => {
    const size = BigInt(item.end - item.start);
    if (!item.writable) return placeItem(item, A - size, `${what} (as the end of ${describe(item.start)})`, fromOld);
    const o = m.itemNewToOld[item.index]!;
    if (o < 0) {
      // Unmatched: the old global ending at A must be unmatched too and of the same size.
      const rva = A - B;
      const oi = rva > 0n && rva <= BigInt(oldImg.image.length) ? m.old.itemAt(Number(rva) - 1) : undefined;
      if (oi !== undefined && oi.writable && BigInt(oi.end) === rva && m.itemOldToNew[oi.index]! < 0 && BigInt(oi.end - oi.start) === size) return ok(undefined);
      return fail(`${what}: is not the end of an unmatched old global of the size of the one before it (0x${item.start.toString(16)} in NEW)`);
    }
    const oi = m.old.items[o];
    return oi !== undefined && A === B + BigInt(oi.start) + size ? ok(undefined) : fail(`${what}: is not the end of the matched old global before it (0x${item.start.toString(16)} in NEW)`);
  };
  /** Checks that read-only `item` of NEW is placed at `startA`, and only there. */
  const placeItem = (item: (typeof m.new.items)[number], startA: bigint, what: string, fromOld: boolean): Result<void> => {
    const slot = `${fromOld ? 'old' : 'pkg'}:${item.index}`;
    const before = placed.get(slot);
    if (before !== undefined) {
      if (before === startA) return ok(undefined);
      return fail(`${what}: ${describe(item.start)} would have two images (0x${before.toString(16)} and 0x${startA.toString(16)})`);
    }
    placed.set(slot, startA);
    const inOld = startA >= B && startA < B + BigInt(oldImg.image.length);
    const strEnd = stringExtent(newImg.image, item.start, item.end);
    let len = (strEnd ?? item.end) - item.start;
    // A pointer may straddle the inferred end of the item (a reference into its middle
    // started the next one): compare it whole.
    for (const rel of relocsIn(newImg, item.start, item.start + len)) len = Math.max(len, rel + 8 - item.start);
    const got = readAt(startA, len);
    if (got === null) return fail(`${what}: read-only data target is outside the image and the package`);
    const want = newImg.image.subarray(item.start, item.start + len);
    const relocs = new Set(relocsIn(newImg, item.start, item.start + len));
    // A self-relative table is checked by meaning: each entry, read as the code reads it
    // (sign-extended, plus the table's address), must reach the image of NEW's target.
    const rel = m.new.relTables.get(item.start);
    const relEnd = rel === undefined ? 0 : relativeEntryChecks(rel, got, startA, len, (t, A, k) => pending.push({ t, A, what: `${describe(item.start)} entry ${k}`, fromOld: inOld }));
    if (relEnd < 0) return fail(`${what}: self-relative table ${describe(item.start)} has no proven extent`);
    for (let k = relEnd; k < len; k++) {
      if (relocs.has(item.start + k)) {
        const nt = newRelocated(item.start + k);
        const av = new DataView(got.buffer, got.byteOffset).getBigUint64(k, true);
        if (nt === null) return fail(`${what}: pointer in read-only data cannot be checked`);
        // Pointer graphs in data are deep (Go type descriptors): checked from a worklist.
        pending.push({ t: Number(nt), A: av, what: `${describe(item.start)} + ${k}`, fromOld: inOld });
        k += 7;
        continue;
      }
      if (got[k] !== want[k]) return fail(`${what}: read-only data differs at +${k}`);
    }
    return ok(undefined);
  };

  /** Import thunk `jmp [slot]` at `rva` of `img`: the import it jumps to, or undefined. */
  const thunkImport = (img: typeof oldImg, rva: number): string | undefined => {
    if (img.image[rva] !== 0xff || img.image[rva + 1] !== 0x25 || rva + 6 > img.image.length) return undefined;
    const imp = img.iat.get(rva + 6 + new DataView(img.image.buffer, img.image.byteOffset).getInt32(rva + 2, true));
    return imp === undefined ? undefined : `${imp.dll}!${imp.symbol}`;
  };
  /** A handler RVA: an import thunk no function owns reaches an OLD thunk of the same import. */
  const checkHandler = (t: number, A: bigint, what: string): Result<void> => {
    const ni = m.new.fns.containing(t) === undefined ? thunkImport(newImg, t) : undefined;
    if (ni === undefined) return checkTarget(t, A, what);
    const rva = A - B;
    if (rva < 0n || rva >= BigInt(oldImg.image.length)) return fail(`${what}: does not reach OLD`);
    return thunkImport(oldImg, Number(rva)) === ni ? ok(undefined) : fail(`${what}: does not reach an OLD thunk of ${ni}`);
  };

  const describeNewFn = (k: number): string => {
    const g = m.new.fns.functions[k]!;
    return g.name ?? `0x${g.entry.toString(16)}`;
  };

  // 3. Every carried function, instruction for instruction.
  let instructions = 0;
  let references = 0;
  let unwindEntries = 0;
  const decoderInsn = new Instruction();
  try {
    for (const { fn, addr, offsets } of carried.values()) {
      const block = blocks.get(pkg.functions.find((r) => (r.newRva as number) === fn.entry)!.blockId)!;
      const base = Number(addr - block.addr);
      const name = fn.name ?? `0x${fn.entry.toString(16)}`;
      const off = (rva: number): number => {
        for (let i = 0; i < fn.ranges.length; i++) {
          const r = fn.ranges[i]!;
          if (rva >= r.start && rva < r.end) return base + offsets[i]! + (rva - r.start);
        }
        return -1;
      };
      const covered = new Set<number>();
      const dec = new Decoder(64, block.bytes, DecoderOptions.None);
      try {
        for (const insn of fn.decoded.insns) {
          const o = off(insn.rva);
          const fields = new Set<number>();
          for (let k = insn.refIndex; k < insn.refIndex + insn.refCount; k++) {
            const r = fn.decoded.refs[k]!;
            for (let b = 0; b < r.size; b++) fields.add(r.fieldRva + b);
          }
          for (let b = 0; b < insn.length; b++) {
            covered.add(insn.rva + b);
            if (fields.has(insn.rva + b)) continue;
            if (block.bytes[o + b] !== newImg.image[insn.rva + b]) return fail(`${name}: byte ${b} of the instruction at +0x${(insn.rva - fn.entry).toString(16)} differs from NEW`);
          }
          dec.position = o;
          dec.ip = addr - BigInt(base) + BigInt(o);
          dec.decodeOut(decoderInsn);
          if (decoderInsn.code === Code.INVALID || decoderInsn.length !== insn.length) return fail(`${name}: instruction at +0x${(insn.rva - fn.entry).toString(16)} does not decode as in NEW`);
          instructions++;
          // Falling off the end of a part into another part of the function (adjacent parts
          // in NEW) must land on that part in the block too.
          const next = insn.rva + insn.length;
          if (canFallThrough(insn.flow) && off(next) >= 0 && off(next) !== o + insn.length) {
            return fail(`${name}: the instruction at +0x${(insn.rva - fn.entry).toString(16)} falls through into another part, which the block does not place after it`);
          }
          for (let k = insn.refIndex; k < insn.refIndex + insn.refCount; k++) {
            const r = fn.decoded.refs[k]!;
            const fo = off(r.fieldRva);
            const dv = new DataView(block.bytes.buffer, block.bytes.byteOffset);
            const fieldAddr = block.addr + BigInt(fo);
            const insnEnd = fieldAddr + BigInt(r.insnEnd - r.fieldRva);
            let A: bigint;
            if (r.kind === 'rel8') A = insnEnd + BigInt(dv.getInt8(fo));
            else if (r.kind === 'rel32' || r.kind === 'riprel32') A = insnEnd + BigInt(dv.getInt32(fo, true));
            else if (r.kind === 'abs64') A = dv.getBigUint64(fo, true);
            // `[__ImageBase + ... + disp32]`: the disp32 is sign-extended and added to the load base.
            else if (r.kind === 'imagerel32') A = B + BigInt(dv.getInt32(fo, true));
            else return fail(`${name}: ${r.kind} reference in a carried function`);
            references++;
            const table = m.new.tables.get(r.target);
            if (table !== undefined && table.fn === fn) {
              // The carried table, reached through the idiom's own field: each entry reaches
              // the mapped case, relative to the table (rel32, sign-extended) or to __ImageBase
              // (rva32: `mov e32` zero-extends, then `add r64, __ImageBase`).
              const rel = table.table.entryKind === 'rel32';
              if (rel !== (r.kind === 'riprel32') || !rel !== (r.kind === 'imagerel32')) return fail(`${name}: jump table at 0x${r.target.toString(16)} reached through a ${r.kind} field`);
              for (let e = 0; e < table.table.targets.length; e++) {
                const ea = A + BigInt(4 * e);
                const raw = readAt(ea, 4);
                if (raw === null) return fail(`${name}: jump table entry ${e} is outside the package`);
                const ev = new DataView(raw.buffer, raw.byteOffset);
                const tgt = rel ? A + BigInt(ev.getInt32(0, true)) : B + BigInt(ev.getUint32(0, true));
                const rr = checkTarget(table.table.targets[e]!, tgt, `${name} jump table entry ${e}`);
                if (!rr.ok) return rr;
              }
              continue;
            }
            const rr = checkTarget(r.target, A, `${name} +0x${(r.insnRva - fn.entry).toString(16)} (${r.kind})`);
            if (!rr.ok) return rr;
          }
        }
      } finally {
        dec.free();
      }
      // Bytes no instruction covers (padding, undecoded gaps) are copied as they are.
      for (const r of fn.ranges) for (let rva = r.start; rva < r.end; rva++) {
        if (!covered.has(rva) && block.bytes[off(rva)] !== newImg.image[rva]) return fail(`${name}: gap byte at +0x${(rva - fn.entry).toString(16)} differs from NEW`);
      }
      // Unwind: one RUNTIME_FUNCTION per .pdata entry, same UNWIND_INFO, handler and types mapped.
      const cb = pkg.codeBlocks.find((c) => blocks.get(c.id) === block)!;
      const u = cb.unwind;
      if (fn.pdata.length !== (u?.runtimeFunctions.length ?? 0)) return fail(`${name}: ${fn.pdata.length} .pdata entries in NEW, ${u?.runtimeFunctions.length ?? 0} in the package`);
      if (u !== null) {
        const info = u.unwindInfo.slice();
        unwindAt = (unwindAt + 3n) & ~3n;
        const infoAddr = unwindAt;
        unwindAt += BigInt(info.length);
        const fixAt = new Map<number, bigint>();
        for (const f of u.unwindFixups) {
          const r = applyFix(info, infoAddr, f, `${name} unwind`, true);
          if (!r.ok) return r;
          fixAt.set(f.offset, r.value);
        }
        // Handler data fields hold addr32nb values: read them back as the runtime would
        // (unwind base + value) and prove each reaches what NEW's field reaches.
        const ehPlaced = new Map<string, number>();
        const ehWork: Array<[HandlerStructure, number]> = [];
        let ehData: ParsedHandlerData | null = null;
        // A parent and its funclets travel together: handler tables of a carried function
        // never reach a funclet the package leaves old (and a carried funclet's parent is
        // carried too).
        for (const k of diff.ehGroupOf.get(fn.index) ?? []) {
          if (!carried.has(k)) return fail(`${name}: its exception-handling group member ${describeNewFn(k)} is not in the package`);
        }
        const checkEhField = (hf: HandlerRvaField, at: number): Result<void> => {
          if (at + 4 > info.length) return fail(`${name}: handler field at +${at} is outside the unwind info`);
          const A = unwindBase + BigInt(new DataView(info.buffer, info.byteOffset).getUint32(at, true));
          const what = `${name} handler data field (${hf.role} 0x${hf.target.toString(16)})`;
          if (!fixAt.has(at)) return fail(`${what}: has no fixup`);
          const t = hf.target;
          if (hf.role === 'table') {
            const d = ehData!;
            const st = d.structures.find((x) => x.rva === t) ?? d.structures.find((x) => t >= x.rva && t < x.rva + x.length);
            if (st === undefined) return fail(`${what}: NEW names no structure there`);
            const start = A - BigInt(t - st.rva);
            if (start < infoAddr || start + BigInt(st.length) > infoAddr + BigInt(info.length)) return fail(`${what}: the copy is not inside the block's unwind info`);
            const off = Number(start - infoAddr);
            const key = `${st.rva}:${st.length}`;
            const before = ehPlaced.get(key);
            if (before === undefined) {
              ehPlaced.set(key, off);
              ehWork.push([st, off]);
            } else if (before !== off) return fail(`${what}: the structure at 0x${st.rva.toString(16)} has two copies`);
            return ok(undefined);
          }
          if (hf.role === 'code') {
            // An address of this function (or its end) is the same place in the carried body.
            const o = off(t);
            if (o >= 0) return A === block.addr + BigInt(o) ? ok(undefined) : fail(`${what}: does not reach the same place in the carried body`);
            const ri = fn.ranges.findIndex((r) => r.end === t);
            if (ri >= 0) return A === addr + BigInt(offsets[ri]! + (t - fn.ranges[ri]!.start)) ? ok(undefined) : fail(`${what}: does not reach the end of the carried range`);
          }
          return checkTarget(t, A, what);
        };
        for (let i = 0; i < fn.pdata.length; i++) {
          const rf = fn.pdata[i]!;
          const e = u.runtimeFunctions[i]!;
          const ri = fn.ranges.findIndex((r) => r.start === (rf.beginAddress as number));
          if (ri < 0 || e.beginOffset !== base + offsets[ri]! || e.endOffset - e.beginOffset !== (rf.endAddress as number) - (rf.beginAddress as number)) return fail(`${name}: RUNTIME_FUNCTION ${i} does not cover the carried range`);
          const uw = rf.unwind!;
          const hd = (uw.flags & 3) !== 0 ? parseHandlerData(newImg, m.new.fns, fn, rf) : null;
          if (hd?.kind === 'refused') return fail(`${name}: carries handler data this compiler refuses (${hd.reason})`);
          const eh = hd?.kind === 'msvc' ? hd.data : null;
          ehData = eh;
          const lsda = (uw.flags & 3) !== 0 && eh === null ? parseGccLsda(newImg.image, (rf.unwindInfoAddress as number) + uw.size, (rf.endAddress as number) - (rf.beginAddress as number)) : null;
          if ((uw.flags & 3) !== 0 && eh === null && lsda === null) return fail(`${name}: carries handler data that is neither MSVC nor a GCC LSDA`);
          const len = uw.size + (eh?.inline.length ?? lsda?.length ?? 0);
          const want = newImg.image.subarray(rf.unwindInfoAddress as number, (rf.unwindInfoAddress as number) + len);
          const fields = new Map<number, number>();
          if ((uw.flags & 3) !== 0) fields.set(uw.size - 4, uw.handler as number);
          for (const t of lsda?.typeRefs ?? []) fields.set(uw.size + t.offset, t.target);
          const ehFields = new Map<number, HandlerRvaField>();
          for (const x of eh?.inline.fields ?? []) ehFields.set(uw.size + x.offset, x);
          if (e.unwindInfoOffset + len > info.length) return fail(`${name}: UNWIND_INFO ${i} runs past the unwind info`);
          // A chained entry (a part of a split function) names its parent: the parent's copy
          // in this block (begin, end) and its UNWIND_INFO in this blob, against the unwind base.
          const chainAt = (uw.flags & 4) !== 0 ? uw.size - 12 : -1;
          if (chainAt >= 0) {
            const pi = chainedParent(fn, rf);
            const pe = pi < 0 ? undefined : u.runtimeFunctions[pi];
            if (pe === undefined) return fail(`${name}: chained unwind info ${i} names no part of the function`);
            const dvi = new DataView(info.buffer, info.byteOffset);
            const at = e.unwindInfoOffset + chainAt;
            for (const k of [0, 4, 8]) if (!fixAt.has(at + k)) return fail(`${name}: chained entry field +${k} of UNWIND_INFO ${i} has no fixup`);
            const got = [0, 4, 8].map((k) => unwindBase + BigInt(dvi.getUint32(at + k, true)));
            const want = [block.addr + BigInt(pe.beginOffset), block.addr + BigInt(pe.endOffset), infoAddr + BigInt(pe.unwindInfoOffset)];
            if (got.some((g, k) => g !== want[k])) return fail(`${name}: chained entry of UNWIND_INFO ${i} does not name its parent part's copy`);
          }
          for (let k = 0; k < len; k++) {
            if (chainAt >= 0 && k >= chainAt && k < chainAt + 12) continue;
            const hf = ehFields.get(k);
            if (hf !== undefined) {
              const rr = checkEhField(hf, e.unwindInfoOffset + k);
              if (!rr.ok) return rr;
              k += 3;
              continue;
            }
            const tgt = fields.get(k);
            if (tgt !== undefined) {
              if (!fixAt.has(e.unwindInfoOffset + k)) return fail(`${name}: unwind field at +${k} has no fixup`);
              // Read back as the runtime reads it, not what the fixup claims to aim at: the
              // handler is an RVA against the unwind base, a GCC type entry (0x9b: pcrel
              // sdata4) is relative to its own address.
              const dvu = new DataView(info.buffer, info.byteOffset, info.byteLength);
              const at = e.unwindInfoOffset + k;
              const S = k === uw.size - 4 ? unwindBase + BigInt(dvu.getUint32(at, true)) : infoAddr + BigInt(at) + BigInt(dvu.getInt32(at, true));
              const rr = k === uw.size - 4 ? checkHandler(tgt, S, `${name} exception handler`) : checkTarget(tgt, S, `${name} unwind field +${k}`);
              if (!rr.ok) return rr;
              k += 3;
              continue;
            }
            if (info[e.unwindInfoOffset + k] !== want[k]) return fail(`${name}: UNWIND_INFO byte ${k} differs from NEW`);
          }
          // The handler's structures: each NEW structure has one copy in this unwind info,
          // found through the fields that name it, equal to NEW outside its fields.
          while (ehWork.length > 0) {
            const [st, at] = ehWork.pop()!;
            const nb = newImg.image.subarray(st.rva, st.rva + st.length);
            const byOff = new Map(st.fields.map((x) => [x.offset, x] as const));
            for (let k = 0; k < st.length; k++) {
              const hf = byOff.get(k);
              if (hf !== undefined) {
                const rr = checkEhField(hf, at + k);
                if (!rr.ok) return rr;
                k += 3;
                continue;
              }
              if (info[at + k] !== nb[k]) return fail(`${name}: byte ${k} of the handler structure at 0x${st.rva.toString(16)} (${eh!.form}) differs from NEW`);
            }
          }
          unwindEntries++;
        }
      }
    }
  } finally {
    decoderInsn.free();
  }

  // 4. Redirects: every changed function's old entry jumps to its carried body.
  let redirects = 0;
  for (const rec of pkg.functions) {
    if (rec.status !== 'changed') continue;
    const rd = pkg.redirects.find((r) => r.oldRva === rec.oldRva);
    if (rd === undefined) return fail(`${rec.name ?? ''}: changed function without a redirect`);
    if (rd.target.blockId !== rec.blockId || rd.target.offset !== rec.blockOffset) return fail(`${rec.name ?? ''}: redirect goes elsewhere than its body`);
    const o = rd.oldRva as number;
    if (!rd.expected.every((b, i) => b === oldImg.image[o + i])) return fail(`${rec.name ?? ''}: redirect expects bytes OLD does not have`);
    if (rd.pad !== null && !rd.pad.expected.every((b, i) => b === oldImg.image[(rd.pad!.rva as number) + i])) return fail(`${rec.name ?? ''}: pad expects bytes OLD does not have`);
    redirects++;
  }
  // Every hotpatchable change of the diff is in the package (skipped refusals, and changes
  // the package declares it left out, aside).
  for (const c of diff.functions) {
    if (c.status === 'changed' && c.verdict === 'hotpatchable' && !leftOut.has(c.newRva ?? -1) && !pkg.functions.some((r) => (r.newRva as number) === c.newRva)) {
      return fail(`changed function ${c.name ?? `0x${(c.newRva ?? 0).toString(16)}`} is missing from the package`);
    }
  }
  return ok({ functions: carried.size, instructions, references, unwindEntries, redirects, dataBlocks: pkg.dataBlocks.length });
}

/** True when execution may continue at the next instruction (not a jmp, ret, ud2 or int3). */
function canFallThrough(flow: FlowControl): boolean {
  return flow !== FlowControl.UnconditionalBranch && flow !== FlowControl.IndirectBranch && flow !== FlowControl.Return && flow !== FlowControl.Exception && flow !== FlowControl.Interrupt;
}
