/**
 * Test support: a small, real hotpatch package built by hand from a real old/new DLL pair,
 * for the runtime's tests before (and beside) the compiler's packages. It takes the named
 * functions' bodies from the NEW file (extents from .pdata), finds every reference leaving a
 * body with iced-x86 (rel32 branches, RIP-relative operands) and turns it into a fixup:
 * into another packaged body (block fixup) or to the same-named symbol of the OLD image
 * (image fixup); unwind data comes from the new .pdata/.xdata. Redirects go at the old
 * entries, with the original bytes and the relied-on hash computed from the old image
 * mapped at its preferred base. Anything it cannot handle throws: it is test code.
 */
import { Decoder, DecoderOptions, OpKind } from 'iced-x86';
import { asRva, type Rva } from '../../../common/types.ts';
import type { CodeBlock, Fixup, FunctionRecord, HotpatchPackage, Redirect } from '../../../formats/package.ts';
import { mapImage } from '../../pe/map-image.ts';
import { parsePe } from '../../pe/parse-pe.ts';
import { sha256 } from '../../pe/sha256.ts';
import type { PeFile } from '../../pe/types.ts';

function must<T>(r: { ok: true; value: T } | { ok: false; error: { message: string } }): T {
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

/** RVA of a named function: COFF symbol (section-relative value) or export. */
export function symbolRva(pe: PeFile, name: string): number | undefined {
  for (const s of pe.symbols) {
    if (s.name !== name || s.sectionNumber < 1) continue;
    const sec = pe.sections[s.sectionNumber - 1];
    if (sec !== undefined) return sec.virtualAddress + s.value;
  }
  return pe.exports?.entries.find((e) => e.name === name)?.rva;
}

/** Every function symbol of the image, by RVA. */
function symbolsByRva(pe: PeFile): { rva: number; name: string }[] {
  const out: { rva: number; name: string }[] = [];
  for (const s of pe.symbols) {
    const sec = pe.sections[s.sectionNumber - 1];
    if (s.sectionNumber < 1 || sec === undefined || s.name.startsWith('.')) continue;
    out.push({ rva: sec.virtualAddress + s.value, name: s.name });
  }
  return out.sort((a, b) => a.rva - b.rva);
}

/** Which functions the hand-built package carries, and its series. */
export interface HandPackageSpec {
  /** Functions whose NEW body replaces the old one (redirected). */
  readonly changed: readonly string[];
  /** Functions only the new image has (placed, not redirected). */
  readonly added?: readonly string[];
  readonly baseline?: string;
  readonly sequence?: number;
  /**
   * Changed functions to redirect with a 2-byte short jump into the padding that follows
   * them (the 5 bytes just before the next symbol), for functions too short for a jmp rel32.
   */
  readonly shortToPad?: readonly string[];
}

/** Start of the first symbol after `rva` (the end of a function without .pdata). */
function nextSymbol(pe: PeFile, rva: number): number | undefined {
  let best: number | undefined;
  for (const s of symbolsByRva(pe)) if (s.rva > rva && (best === undefined || s.rva < best)) best = s.rva;
  return best;
}

/** Builds the package (see the module comment). */
export function buildHandPackage(oldBytes: Uint8Array, newBytes: Uint8Array, spec: HandPackageSpec): HotpatchPackage {
  const oldPe = must(parsePe(oldBytes));
  const newPe = must(parsePe(newBytes));
  const oldMapped = must(mapImage(oldBytes, oldPe.optionalHeader.imageBase));
  const newMapped = must(mapImage(newBytes, newPe.optionalHeader.imageBase));
  const newSyms = symbolsByRva(newPe);
  const names = [...spec.changed, ...(spec.added ?? [])];
  const bodies = names.map((name, id) => {
    const rva = symbolRva(newPe, name);
    if (rva === undefined) throw new Error(`no symbol ${name} in the new image`);
    const rf = newPe.exceptions.find((e) => e.beginAddress === rva) ?? null;
    // A leaf without .pdata (no unwind data needed) ends where the next symbol starts.
    const end = rf?.endAddress ?? nextSymbol(newPe, rva);
    if (end === undefined) throw new Error(`no extent for ${name}`);
    return { name, id, rva, end: end as number, rf };
  });
  const newBase = newPe.optionalHeader.imageBase;
  const codeBlocks: CodeBlock[] = bodies.map((b) => {
    const bytes = newMapped.slice(b.rva, b.end);
    const fixups: Fixup[] = [];
    const targetOf = (t: number): Fixup['target'] => {
      const inBody = bodies.find((o) => t >= o.rva && t < o.end);
      if (inBody !== undefined) return { kind: 'block', blockId: inBody.id, offset: t - inBody.rva };
      // Nearest symbol at or below the target, then the same name in the old image.
      let sym: { rva: number; name: string } | undefined;
      for (const s of newSyms) if (s.rva <= t) sym = s;
      const oldRva = sym === undefined ? undefined : symbolRva(oldPe, sym.name);
      if (sym === undefined || oldRva === undefined) throw new Error(`${b.name}: reference to ${t.toString(16)} has no counterpart in the old image`);
      return { kind: 'image', rva: asRva(oldRva + (t - sym.rva)) };
    };
    const decoder = new Decoder(64, bytes, DecoderOptions.None);
    decoder.ip = newBase + BigInt(b.rva);
    while (decoder.canDecode) {
      const insn = decoder.decode();
      const at = Number(insn.ip - newBase) - b.rva;
      const end = at + insn.length;
      if (insn.op0Kind === OpKind.NearBranch64) {
        const t = Number(insn.nearBranchTarget - newBase);
        const short = insn.isJmpShort || insn.isJccShort || insn.isLoop || insn.isLoopcc || insn.isJcxShort;
        if (!(t >= b.rva && t < b.end)) {
          if (short) throw new Error(`${b.name}: short branch leaves the function`);
          fixups.push({ kind: 'rel32', offset: end - 4, target: targetOf(t), addend: -4n });
        }
      }
      if (insn.isIpRelMemoryOperand) {
        const co = decoder.getConstantOffsets(insn);
        const off = at + co.displacementOffset;
        co.free();
        const t = Number(insn.ipRelMemoryAddress - newBase);
        fixups.push({ kind: 'rip-disp32', offset: off, target: targetOf(t), addend: BigInt(off - end) });
      }
      insn.free();
    }
    decoder.free();
    if (b.rf === null) return { id: b.id, alignment: 16, bytes: { kind: 'literal' as const, bytes }, fixups, unwind: null };
    const u = b.rf.unwind;
    if (u === null || u.handler !== null || u.chained !== null) throw new Error(`${b.name}: unwind info this helper cannot carry`);
    const unwind = {
      runtimeFunctions: [{ beginOffset: 0, endOffset: b.end - b.rva, unwindInfoOffset: 0 }],
      unwindInfo: newMapped.slice(u.rva, u.rva + u.size),
      unwindFixups: [],
    };
    return { id: b.id, alignment: 16, bytes: { kind: 'literal', bytes }, fixups, unwind };
  });
  const redirects: Redirect[] = spec.changed.map((name, id) => {
    const oldRva = symbolRva(oldPe, name);
    if (oldRva === undefined) throw new Error(`no symbol ${name} in the old image`);
    if (spec.shortToPad?.includes(name) === true) {
      const next = nextSymbol(oldPe, oldRva);
      if (next === undefined) throw new Error(`no padding after ${name}`);
      const pad = next - 5;
      return {
        oldRva: asRva(oldRva),
        target: { blockId: id, offset: 0 },
        kind: 'short-to-pad',
        expected: oldMapped.slice(oldRva, oldRva + 2),
        pad: { rva: asRva(pad), expected: oldMapped.slice(pad, pad + 5) },
      };
    }
    return { oldRva: asRva(oldRva), target: { blockId: id, offset: 0 }, kind: 'jmp-rel32', expected: oldMapped.slice(oldRva, oldRva + 5), pad: null };
  });
  const functions: FunctionRecord[] = bodies.map((b, i) => {
    const changed = i < spec.changed.length;
    const oldRva = changed ? symbolRva(oldPe, b.name) : undefined;
    return {
      name: b.name,
      oldRva: oldRva === undefined ? null : asRva(oldRva),
      newRva: asRva(b.rva),
      status: changed ? 'changed' : 'added',
      oldSize: 0,
      newSize: b.end - b.rva,
      blockId: b.id,
      blockOffset: 0,
    };
  });
  const reliedRanges = redirects
    .flatMap((r) => [{ rva: r.oldRva, length: r.expected.length }, ...(r.pad === null ? [] : [{ rva: r.pad.rva, length: r.pad.expected.length }])])
    .sort((a, b) => a.rva - b.rva);
  const relied = new Uint8Array(reliedRanges.reduce((n, r) => n + r.length, 0));
  let at = 0;
  for (const r of reliedRanges) {
    relied.set(oldMapped.subarray(r.rva, r.rva + r.length), at);
    at += r.length;
  }
  return {
    target: {
      machine: oldPe.fileHeader.machine,
      timeDateStamp: oldPe.fileHeader.timeDateStamp,
      sizeOfImage: oldPe.optionalHeader.sizeOfImage,
      checkSum: oldPe.optionalHeader.checkSum,
      imageBase: oldPe.optionalHeader.imageBase,
      codeView: null,
      moduleName: 'test.dll',
      reliedRanges: reliedRanges as { rva: Rva; length: number }[],
      reliedSha256: sha256(relied),
    },
    series: { baselineId: spec.baseline ?? 'hand', sequence: spec.sequence ?? 1 },
    codeBlocks,
    dataBlocks: [],
    imports: [],
    redirects,
    functions,
    producer: { compilerVersion: 'hand-package (runtime tests)', parameters: [] },
  };
}
