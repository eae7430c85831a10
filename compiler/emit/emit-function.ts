/**
 * One carried function as a code block: NEW's bytes laid out part by part (layout-parts.ts),
 * its own jump tables after the code, every reference field zeroed and described by a fixup,
 * and its unwind and handler data re-targeted at the block.
 */
import { err, ok, type Result } from '../../common/errors.ts';
import type { CodeBlock, Fixup, FixupKind, RuntimeFunction } from '../../formats/package.ts';
import { describeNew, handlerFieldTarget, offsetInFunction, resolveHandler, resolveTarget, type ResolveContext } from '../diff/resolve-target.ts';
import { parseGccLsda } from '../eh/gcc-lsda.ts';
import { parseHandlerData } from '../eh/parse-handler-data.ts';
import type { HandlerStructure, ParsedHandlerData } from '../eh/types.ts';
import { chainedParent, layoutParts, registeredEntries } from '../functions/layout-parts.ts';
import type { FunctionInfo } from '../image/types.ts';
import type { IntraCandidate } from './intra-deltas.ts';

const UNW_FLAG_EHANDLER = 1;
const UNW_FLAG_UHANDLER = 2;

/** Code block bytes (before delta encoding) and the block itself. */
export interface BuiltFunction {
  readonly bytes: Uint8Array;
  readonly block: CodeBlock;
  /**
   * Fields that point inside the block (branches within a part, fixups to the block itself,
   * its relative jump tables): what a delta may store as intra references (deltas.ts).
   */
  readonly intra: readonly IntraCandidate[];
}

/** Copies new function `f` into block `id` and re-targets its references. */
export function emitFunction(ctx: ResolveContext, f: FunctionInfo, offsets: readonly number[], id: number): Result<BuiltFunction> {
  const m = ctx.m;
  const img = m.new.img;
  let size = 0;
  f.ranges.forEach((r, i) => (size = Math.max(size, offsets[i]! + (r.end - r.start))));
  // Jump tables the function owns go after its code, in NEW's address order (the order of
  // the old tables a delta copies them from).
  const tableOff = new Map<number, number>();
  const owned = new Set<number>();
  for (const r of f.decoded.refs) {
    const t = m.new.tables.get(r.target);
    if (t === undefined || t.fn !== f) continue;
    // A table is reached through `lea rX, [rip + T]` (rel32 entries) or through the disp32 of
    // `mov eY, [__ImageBase + idx*4 + T]` (rva32 entries); anything else is not the idiom.
    if ((t.table.entryKind === 'rel32') !== (r.kind === 'riprel32') || (t.table.entryKind === 'rva32') !== (r.kind === 'imagerel32')) {
      return err('BUILD_UNSUPPORTED', `${describeNew(m, f.entry)}: jump table at 0x${r.target.toString(16)} is referenced by a ${r.kind} field`);
    }
    owned.add(r.target);
  }
  for (const trva of [...owned].sort((a, b) => a - b)) {
    size = (size + 3) & ~3;
    tableOff.set(trva, size);
    size += 4 * m.new.tables.get(trva)!.table.targets.length;
  }
  const bytes = new Uint8Array(size);
  // Between parts kept at their distances (layout-parts.ts) lie other functions' bytes in
  // NEW: int3 here, so nothing runs into them.
  for (const g of layoutParts(f).fills) bytes.fill(0xcc, g.start, g.end);
  f.ranges.forEach((r, i) => bytes.set(img.image.subarray(r.start, r.end), offsets[i]!));
  const dv = new DataView(bytes.buffer);
  const fixups: Fixup[] = [];
  const at = (rva: number): number => offsetInFunction(f, offsets, rva)!;
  const rangeIndex = (rva: number): number => f.ranges.findIndex((r) => rva >= r.start && rva < r.end);
  const intra: IntraCandidate[] = [];
  for (const [trva, off] of tableOff) {
    const t = m.new.tables.get(trva)!;
    if (t.table.entryKind === 'rel32') intra.push({ kind: 'table', offset: off, count: t.table.targets.length, newRva: trva });
    t.table.targets.forEach((target, k) => {
      // rel32: relative to the table, so constants. rva32: __ImageBase-relative case
      // addresses, which only the runtime knows (the block's place above the image).
      if (t.table.entryKind === 'rel32') dv.setInt32(off + 4 * k, at(target) - off, true);
      else fixups.push({ kind: 'imagerel32', offset: off + 4 * k, target: { kind: 'block', blockId: id, offset: at(target) }, addend: 0n });
    });
  }
  for (const r of f.decoded.refs) {
    const fieldOff = at(r.fieldRva);
    const addend = -BigInt(r.insnEnd - r.fieldRva);
    const where = `${describeNew(m, f.entry)} at ${describeNew(m, r.insnRva)}`;
    const relKind: FixupKind | null = r.kind === 'rel32' ? 'rel32' : r.kind === 'riprel32' ? 'rip-disp32' : r.kind === 'rel8' ? 'rel8' : null;
    // The function's own tables first: MSVC puts them inside the function's range.
    const table = tableOff.get(r.target);
    // A field relative to its own end (no immediate after it) is an intra candidate.
    const ownEnd = r.insnEnd === r.fieldRva + r.size;
    if (table !== undefined && (relKind === 'rip-disp32' || r.kind === 'imagerel32')) {
      const kind: FixupKind = relKind === 'rip-disp32' ? 'rip-disp32' : 'imagerel32';
      if (kind === 'rip-disp32' && ownEnd) intra.push({ kind: 'rel32', offset: fieldOff, count: 1, newRva: null });
      fixups.push({ kind, offset: fieldOff, target: { kind: 'block', blockId: id, offset: table }, addend: kind === 'rip-disp32' ? addend : 0n });
      bytes.fill(0, fieldOff, fieldOff + 4);
      continue;
    }
    const internal = rangeIndex(r.target);
    if (internal >= 0 && !r.isBranch && r.target === f.entry && (relKind === 'rip-disp32' || r.kind === 'abs64')) {
      // Its own entry taken as a value (Rust passes it to the panic machinery, `lea r8, [self]`)
      // is the redirected OLD entry, as any function's is (resolve-target.ts canonicalEntry):
      // the verifier rejects the new body's address there.
      const res = resolveTarget(ctx, r.target, f, r.accessesTarget, false);
      if (res.ok && res.target.kind === 'image') {
        fixups.push({ kind: relKind ?? 'abs64', offset: fieldOff, target: res.target, addend: relKind === null ? 0n : addend });
        bytes.fill(0, fieldOff, fieldOff + r.size);
        continue;
      }
    }
    if (internal >= 0) {
      if (relKind !== null && ownEnd) intra.push({ kind: relKind === 'rel8' ? 'rel8' : 'rel32', offset: fieldOff, count: 1, newRva: null });
      if (relKind !== null && internal === rangeIndex(r.insnRva)) continue; // moves with the code
      // A rel8 between parts: layout-parts.ts kept them at their distance (the diff refused
      // the function otherwise); the fixup re-checks the reach.
      if (relKind !== null) fixups.push({ kind: relKind, offset: fieldOff, target: { kind: 'block', blockId: id, offset: at(r.target) }, addend });
      else if (r.kind === 'abs64') fixups.push({ kind: 'abs64', offset: fieldOff, target: { kind: 'block', blockId: id, offset: at(r.target) }, addend: 0n });
      else return err('BUILD_UNSUPPORTED', `${where}: ${r.kind} reference cannot be re-targeted`);
      bytes.fill(0, fieldOff, fieldOff + r.size);
      continue;
    }
    if (relKind === 'rel8') return err('BUILD_UNSUPPORTED', `${where}: short branch leaves the function`);
    if (r.kind === 'abs32') return err('BUILD_UNSUPPORTED', `${where}: ${r.kind} reference cannot be re-targeted`);
    if (r.kind === 'imagerel32') {
      // `[__ImageBase + ... + disp32]` with the base proven by the decoder: disp32 = target - image base.
      if (!f.decoded.imageBaseFields.includes(r.fieldRva)) return err('BUILD_UNSUPPORTED', `${where}: image-relative reference with an unproven base register`);
      const res = resolveTarget(ctx, r.target, f);
      if (!res.ok) return err('BUILD_UNRESOLVED', `${where}: ${res.reason}`);
      if (res.target.kind !== 'image' && res.target.kind !== 'block') return err('BUILD_UNSUPPORTED', `${where}: image-relative reference to an import`);
      fixups.push({ kind: 'imagerel32', offset: fieldOff, target: res.target, addend: 0n });
      bytes.fill(0, fieldOff, fieldOff + 4);
      continue;
    }
    const res = resolveTarget(ctx, r.target, f, r.accessesTarget, r.isBranch);
    if (!res.ok) return err('BUILD_UNRESOLVED', `${where}: ${res.reason}`);
    fixups.push({ kind: relKind ?? 'abs64', offset: fieldOff, target: res.target, addend: relKind === null ? 0n : addend });
    bytes.fill(0, fieldOff, fieldOff + r.size);
  }

  const unwind = emitUnwind(ctx, f, offsets, id);
  if (!unwind.ok) return unwind;
  return ok({ bytes, block: { id, alignment: 16, bytes: { kind: 'literal', bytes }, fixups, unwind: unwind.value }, intra });
}

/**
 * Unwind data: every .pdata entry of the function but its leaf ones (registeredEntries), UNWIND_INFO copied with its handler data.
 * MSVC handler data (GS, scope tables, FuncInfo) is copied inline after its UNWIND_INFO, and
 * its out-of-line structures after all the UNWIND_INFOs of the block; every RVA field is an
 * addr32nb fixup: `table` at its copy (an unwind target), `code` at this block (the function
 * keeps its layout), anything else where resolveTarget says.
 */
function emitUnwind(ctx: ResolveContext, f: FunctionInfo, offsets: readonly number[], id: number): Result<CodeBlock['unwind']> {
  const m = ctx.m;
  const img = m.new.img;
  const runtimeFunctions: RuntimeFunction[] = [];
  const infos: Array<{ readonly at: number; readonly bytes: Uint8Array }> = [];
  const unwindFixups: Fixup[] = [];
  const pendingEh: Array<{ readonly inlineAt: number; readonly data: ParsedHandlerData }> = [];
  // Chained UNWIND_INFO (a part of a split function): its RUNTIME_FUNCTION names the parent
  // entry, which is another part of this function; completed once every entry has its place.
  const infoOffOf: number[] = [];
  const chains: Array<{ readonly at: number; readonly parent: number }> = [];
  let infoLen = 0;
  for (const rf of registeredEntries(f)) {
    const u = rf.unwind;
    if (u === null) return err('BUILD_UNSUPPORTED', `${describeNew(m, f.entry)}: unreadable unwind info`);
    if ((u.flags & 4) !== 0) {
      const parent = chainedParent(f, rf);
      if (parent < 0) return err('BUILD_UNSUPPORTED', `${describeNew(m, f.entry)}: chained unwind info names an entry that is not one of the function's parts`);
      chains.push({ at: ((infoLen + 3) & ~3) + u.size - 12, parent });
    }
    infoLen = (infoLen + 3) & ~3;
    const infoOff = infoLen;
    infoOffOf.push(infoOff);
    const uStart = rf.unwindInfoAddress;
    let len = u.size;
    const hasHandler = (u.flags & (UNW_FLAG_EHANDLER | UNW_FLAG_UHANDLER)) !== 0;
    let lsda: ReturnType<typeof parseGccLsda> = null;
    let eh: ParsedHandlerData | null = null;
    if (hasHandler) {
      if (u.handler === null) return err('BUILD_UNSUPPORTED', `${describeNew(m, f.entry)}: handler RVA missing`);
      const hd = parseHandlerData(img, m.new.fns, f, rf);
      if (hd?.kind === 'refused') return err('BUILD_UNSUPPORTED', `${describeNew(m, f.entry)}: ${hd.reason}`);
      if (hd?.kind === 'msvc') {
        eh = hd.data;
        if (eh.inline.rva !== uStart + u.size) return err('BUILD_INTERNAL', `${describeNew(m, f.entry)}: handler data does not follow its UNWIND_INFO`);
        len += eh.inline.length;
      } else {
        const fnLen = rf.endAddress - rf.beginAddress;
        lsda = parseGccLsda(img.image, uStart + u.size, fnLen, img.imageBase);
        if (lsda === null) return err('BUILD_UNSUPPORTED', `${describeNew(m, f.entry)}: exception handler data is not a GCC LSDA this compiler can carry, and ${hd?.kind === 'other' ? hd.why : 'no MSVC form'}`);
        len += lsda.length;
      }
    }
    const info = img.image.slice(uStart, uStart + len);
    if (hasHandler) {
      const h = resolveHandler(ctx, u.handler!);
      if (!h.ok) return err('BUILD_UNRESOLVED', `${describeNew(m, f.entry)} exception handler: ${h.reason}`);
      unwindFixups.push({ kind: 'addr32nb', offset: infoOff + u.size - 4, target: h.target, addend: 0n });
      info.fill(0, u.size - 4, u.size);
      for (const t of lsda?.typeRefs ?? []) {
        const res = resolveTarget(ctx, t.target, null);
        if (!res.ok) return err('BUILD_UNRESOLVED', `${describeNew(m, f.entry)} exception type table: ${res.reason}`);
        unwindFixups.push({ kind: t.kind === 'abs64' ? 'abs64' : 'rel32', offset: infoOff + u.size + t.offset, target: res.target, addend: 0n });
        info.fill(0, u.size + t.offset, u.size + t.offset + t.size);
      }
      if (eh !== null) pendingEh.push({ inlineAt: infoOff + u.size, data: eh });
    }
    infos.push({ at: infoOff, bytes: info });
    const ri = f.ranges.findIndex((r) => r.start === rf.beginAddress);
    if (ri < 0) return err('BUILD_INTERNAL', `${describeNew(m, f.entry)}: .pdata entry does not start a range`);
    runtimeFunctions.push({ beginOffset: offsets[ri]!, endOffset: offsets[ri]! + (rf.endAddress - rf.beginAddress), unwindInfoOffset: infoOff });
    infoLen += len;
  }
  // Out-of-line handler structures, once per block (a function's .pdata entries may share them).
  const structAt = new Map<string, number>();
  for (const p of pendingEh) {
    for (const st of p.data.structures) {
      const key = `${st.rva}:${st.length}`;
      if (structAt.has(key)) continue;
      infoLen = (infoLen + 3) & ~3;
      structAt.set(key, infoLen);
      infos.push({ at: infoLen, bytes: img.image.slice(st.rva, st.rva + st.length) });
      infoLen += st.length;
    }
  }
  let blob = new Uint8Array(infoLen);
  for (const info of infos) blob.set(info.bytes, info.at);
  for (const c of chains) {
    // BeginAddress, EndAddress: the parent part in this block; UnwindInfoAddress: the parent's
    // UNWIND_INFO in this blob. All RVAs against the unwind base (addr32nb).
    const p = runtimeFunctions[c.parent]!;
    unwindFixups.push(
      { kind: 'addr32nb', offset: c.at, target: { kind: 'block', blockId: id, offset: p.beginOffset }, addend: 0n },
      { kind: 'addr32nb', offset: c.at + 4, target: { kind: 'block', blockId: id, offset: p.endOffset }, addend: 0n },
      { kind: 'addr32nb', offset: c.at + 8, target: { kind: 'unwind', offset: infoOffOf[c.parent]! }, addend: 0n },
    );
    blob.fill(0, c.at, c.at + 12);
  }
  for (const p of pendingEh) {
    const place = (st: HandlerStructure, at: number): Result<void> => {
      for (const fld of st.fields) {
        const fo = at + fld.offset;
        const t = handlerFieldTarget(ctx, f, offsets, id, p.data, fld, structAt);
        if (!t.ok) return err('BUILD_UNRESOLVED', `${describeNew(m, f.entry)} exception handler data (${p.data.form}) at 0x${(st.rva + fld.offset).toString(16)}: ${t.reason}`);
        unwindFixups.push({ kind: 'addr32nb', offset: fo, target: t.target, addend: 0n });
        blob.fill(0, fo, fo + 4);
      }
      return ok(undefined);
    };
    const r = place(p.data.inline, p.inlineAt);
    if (!r.ok) return r;
    for (const st of p.data.structures) {
      const at = structAt.get(`${st.rva}:${st.length}`)!;
      // A structure shared by two entries is patched once.
      if (pendingEh.find((q) => q.data.structures.some((x) => x.rva === st.rva && x.length === st.length)) !== p) continue;
      const rs = place(st, at);
      if (!rs.ok) return rs;
    }
  }
  let unwind: CodeBlock['unwind'] = null;
  if (runtimeFunctions.length > 0) {
    if (blob.length === 0) blob = new Uint8Array(4);
    unwind = { runtimeFunctions, unwindInfo: blob, unwindFixups };
  }
  return ok(unwind);
}

