/**
 * Test support: reads each redirected function of a patched in-memory image THROUGH its
 * redirect (decode the jump at the old entry, follow it) and compares the body found there
 * with the NEW image's function, instruction by instruction, with every reference mapped:
 * a branch or RIP-relative operand must reach, in the patched image, what the new code's
 * reference reaches in the new image (the same named function or data, either in the old
 * image or as a body placed by the patch; for data also the same import behind a pointer
 * slot, the same read-only bytes, the same object with its pointers mapped, or a jump
 * table whose entries reach the same code).
 * Returns the mismatches (empty when equal).
 */
import { Decoder, DecoderOptions, Instruction, OpKind } from 'iced-x86';
import { asVa } from '../../../common/types.ts';
import { importAtStub, stubKey, type ProcessImage } from '../../image/process-image.ts';
import { mapImage } from '../../pe/map-image.ts';
import { parsePe } from '../../pe/parse-pe.ts';
import type { PeFile } from '../../pe/types.ts';
import type { WritePlan } from '../../plan/write-plan.ts';
import type { HotpatchPackage } from '../../../formats/package.ts';
import { symbolRva } from './hand-package.ts';

function nearestSymbol(pe: PeFile, rva: number): { name: string; rva: number } | undefined {
  let best: { name: string; rva: number } | undefined;
  for (const s of pe.symbols) {
    const sec = pe.sections[s.sectionNumber - 1];
    if (s.sectionNumber < 1 || sec === undefined || s.name.startsWith('.')) continue;
    const r = sec.virtualAddress + s.value;
    if (r <= rva && (best === undefined || r > best.rva)) best = { name: s.name, rva: r };
  }
  return best;
}

function decodeAll(bytes: Uint8Array, ip: bigint): { ip: bigint; len: number; branch: bigint | null; rip: bigint | null; text: string; bytes: Uint8Array }[] {
  const d = new Decoder(64, bytes, DecoderOptions.None);
  d.ip = ip;
  const out: { ip: bigint; len: number; branch: bigint | null; rip: bigint | null; text: string; bytes: Uint8Array }[] = [];
  const insn = new Instruction();
  while (d.canDecode) {
    d.decodeOut(insn);
    const off = Number(insn.ip - ip);
    out.push({
      ip: insn.ip,
      len: insn.length,
      branch: insn.op0Kind === OpKind.NearBranch64 ? insn.nearBranchTarget : null,
      rip: insn.isIpRelMemoryOperand ? insn.ipRelMemoryAddress : null,
      text: `${insn.mnemonic}`,
      bytes: bytes.slice(off, off + insn.length),
    });
  }
  insn.free();
  d.free();
  return out;
}

/** The patched process and the NEW image it must behave as, with what the comparisons look up. */
interface Pair {
  readonly img: ProcessImage;
  readonly oldPe: PeFile;
  readonly newPe: PeFile;
  /** NEW mapped at its preferred base `newBase`. */
  readonly newMapped: Uint8Array;
  readonly newBase: bigint;
  /** Each function's body placed by the plan, by name. */
  readonly bodyOf: ReadonlyMap<string | null, WritePlan['functions'][number]>;
  /** The import behind a new-image IAT slot, as a stub key. */
  readonly newIat: ReadonlyMap<number, string>;
  /** RVAs of NEW's base-relocated (DIR64) pointers. */
  readonly newPointers: ReadonlySet<number>;
}

/** `n` bytes of NEW at the new-image address `t`. */
function newBytesAt(p: Pair, t: bigint, n: number): Uint8Array {
  return p.newMapped.slice(Number(t - p.newBase), Number(t - p.newBase) + n);
}

/** Where a new-image address lands in the patched process, or why it lands nowhere. */
function mapTarget(p: Pair, t: bigint): bigint | string {
  const rva = Number(t - p.newBase);
  const sym = nearestSymbol(p.newPe, rva);
  if (sym === undefined) return `no symbol at new ${rva.toString(16)}`;
  const placed = p.bodyOf.get(sym.name);
  if (placed !== undefined) return placed.bodyVa + BigInt(rva - sym.rva);
  const oldRva = symbolRva(p.oldPe, sym.name);
  if (oldRva === undefined) return `${sym.name} is in neither the patch nor the old image`;
  return p.img.base + BigInt(oldRva + (rva - sym.rva));
}

/**
 * Where a new-image address taken as a value (a RIP-relative `lea`, a pointer in data) lands:
 * as mapTarget, except that the entry of a function the patch replaces is its OLD entry, the
 * one redirected to the new body. OLD's code and data hold that address, and in NEW one
 * function has one address (compiler/diff/resolve-target.ts canonicalEntry).
 */
function mapValue(p: Pair, t: bigint): bigint | string {
  const rva = Number(t - p.newBase);
  const sym = nearestSymbol(p.newPe, rva);
  const placed = sym === undefined || sym.rva !== rva ? undefined : p.bodyOf.get(sym.name);
  const oldRva = placed === undefined ? undefined : symbolRva(p.oldPe, sym!.name);
  if (placed === undefined || oldRva === undefined) return mapTarget(p, t);
  const entry = p.img.base + BigInt(oldRva);
  return followRedirect(p.img, entry) === placed.bodyVa ? entry : `${sym!.name}'s old entry does not redirect to its new body`;
}

/**
 * A read-only object the package carries as a copy (clang's type_info and vtables, when
 * the layout around them moved): 16 bytes at `wt` hold the same bytes at `ht` except for
 * base-relocated pointers, each reaching where NEW's pointer maps to, or (depth-bounded)
 * a copy that holds the same in turn.
 */
function samePointers(p: Pair, wt: bigint, ht: bigint, depth: number): boolean {
  const at = Number(wt - p.newBase);
  const have = p.img.space.read(asVa(ht), 16);
  if (!have.ok || at < 0 || at + 16 > p.newMapped.length) return false;
  const want = newBytesAt(p, wt, 16);
  const wdv = new DataView(want.buffer, want.byteOffset);
  const hdv = new DataView(have.value.buffer, have.value.byteOffset);
  for (let k = 0; k < 16; k++) {
    if (p.newPointers.has(at + k) && k + 8 <= 16) {
      const wp = wdv.getBigUint64(k, true);
      const hp = hdv.getBigUint64(k, true);
      const mapped = mapValue(p, wp);
      if (mapped !== hp && !(depth > 0 && samePointers(p, wp, hp, depth - 1))) return false;
      k += 7;
      continue;
    }
    if (want[k] !== have.value[k]) return false;
  }
  return true;
}

/**
 * A gcc jump table at `wt` (int32 entries relative to the table, each a target inside the
 * function at `fnRva`, `fnSize` bytes) whose entries at `ht` reach, in the patched image,
 * where `mapCode` maps NEW's targets. True, a reason, or null when `wt` holds no such table.
 */
function sameJumpTable(p: Pair, wt: bigint, ht: bigint, mapCode: (t: bigint) => bigint | string, fnRva: number, fnSize: number): true | string | null {
  const fnStart = p.newBase + BigInt(fnRva);
  const wdv = new DataView(p.newMapped.buffer, p.newMapped.byteOffset);
  let entries = 0;
  for (let k = 0; ; k++) {
    const off = Number(wt - p.newBase) + 4 * k;
    if (off + 4 > p.newMapped.length) break;
    const wTarget = wt + BigInt(wdv.getInt32(off, true));
    if (wTarget < fnStart || wTarget >= fnStart + BigInt(fnSize)) break;
    const h = p.img.space.read(asVa(ht + BigInt(4 * k)), 4);
    if (!h.ok) return `jump table entry ${k} unreadable`;
    const hTarget = ht + BigInt(new DataView(h.value.buffer).getInt32(0, true));
    const mapped = mapCode(wTarget);
    if (mapped !== hTarget) return `jump table entry ${k} reaches ${hTarget.toString(16)}, expected ${String(mapped)}`;
    entries++;
  }
  return entries > 0 ? true : null;
}

/**
 * Whether the patched operand target `ht` holds what the new target `wt` holds: the same
 * import (a pointer slot holding that import's stub), the same read-only bytes (a string
 * up to its NUL, else 16 bytes), the same object with its pointers mapped, or the same jump
 * table. True, or a reason, or null when no rule applies.
 */
function sameData(p: Pair, wt: bigint, ht: bigint, mapCode: (t: bigint) => bigint | string, fnRva: number, fnSize: number): true | string | null {
  const imp = p.newIat.get(Number(wt - p.newBase));
  if (imp !== undefined) {
    const slot = p.img.space.read(asVa(ht), 8);
    if (!slot.ok) return `import slot for ${imp} unreadable`;
    const held = importAtStub(p.img, asVa(new DataView(slot.value.buffer).getBigUint64(0, true)));
    return held === imp ? true : `slot reaches ${held ?? 'no import'}, expected ${imp}`;
  }
  const want = newBytesAt(p, wt, 16);
  const nul = want.indexOf(0);
  const len = nul > 0 ? nul + 1 : 16;
  const have = p.img.space.read(asVa(ht), len);
  if (have.ok && have.value.every((b, i) => b === newBytesAt(p, wt, len)[i])) return true;
  if (samePointers(p, wt, ht, 2)) return true;
  return sameJumpTable(p, wt, ht, mapCode, fnRva, fnSize);
}

/**
 * A call to an import thunk of NEW (lld's `jmp [rip+slot]`, named after the import) may
 * reach the import itself in the patched image: the stub of that import, or a thunk of the
 * old image whose slot holds it. True, a reason, or null when `wt` is no import thunk.
 */
function sameImportThunk(p: Pair, wt: bigint, ht: bigint): true | string | null {
  const w = newBytesAt(p, wt, 6);
  if (w[0] !== 0xff || w[1] !== 0x25) return null;
  const imp = p.newIat.get(Number(wt - p.newBase) + 6 + new DataView(w.buffer, w.byteOffset).getInt32(2, true));
  if (imp === undefined) return null;
  let held = importAtStub(p.img, asVa(ht));
  const h = p.img.space.read(asVa(ht), 6);
  if (held === undefined && h.ok && h.value[0] === 0xff && h.value[1] === 0x25) {
    const slot = p.img.space.read(asVa(ht + 6n + BigInt(new DataView(h.value.buffer).getInt32(2, true))), 8);
    if (slot.ok) held = importAtStub(p.img, asVa(new DataView(slot.value.buffer).getBigUint64(0, true)));
  }
  return held === imp ? true : `call reaches ${held ?? 'no import'}, expected ${imp}`;
}

/** The body an old entry redirects to: an E9 rel32 at the entry, or an EB rel8 to an E9 rel32 in padding. */
function followRedirect(img: ProcessImage, entry: bigint): bigint | null {
  let at = entry;
  const first = img.space.read(asVa(at), 2);
  if (first.ok && first.value[0] === 0xeb) at = at + 2n + BigInt((first.value[1]! << 24) >> 24);
  const jmp = img.space.read(asVa(at), 5);
  if (!jmp.ok || jmp.value[0] !== 0xe9) return null;
  return at + 5n + BigInt(new DataView(jmp.value.buffer).getInt32(1, true));
}

/**
 * The body `got` read at `body` against NEW's function `name` at `newRva` (`size` bytes),
 * instruction by instruction with every branch and RIP-relative operand mapped; the mismatches.
 */
function compareBody(p: Pair, name: string, newRva: number, size: number, body: bigint, got: Uint8Array): string[] {
  const problems: string[] = [];
  const { newBase } = p;
  const want = decodeAll(p.newMapped.slice(newRva, newRva + size), newBase + BigInt(newRva));
  const have = decodeAll(got, body);
  if (want.length !== have.length) problems.push(`${name}: ${have.length} instructions, new has ${want.length}`);
  const inside = (t: bigint): boolean => t >= newBase + BigInt(newRva) && t < newBase + BigInt(newRva + size);
  const mapCode = (t: bigint): bigint | string => (inside(t) ? body + (t - newBase - BigInt(newRva)) : mapTarget(p, t));
  // A RIP-relative operand takes an address as a value (or loads from it): a function's entry there is its OLD entry.
  const mapRip = (t: bigint): bigint | string => (inside(t) ? body + (t - newBase - BigInt(newRva)) : mapValue(p, t));
  for (let i = 0; i < Math.min(want.length, have.length); i++) {
    const w = want[i]!;
    const h = have[i]!;
    const at = `${name}+${(w.ip - newBase - BigInt(newRva)).toString(16)}`;
    if (w.text !== h.text || w.len !== h.len) {
      problems.push(`${at}: ${h.text}/${h.len} where new has ${w.text}/${w.len}`);
      continue;
    }
    for (const [kind, wt, ht] of [['branch', w.branch, h.branch], ['rip', w.rip, h.rip]] as const) {
      if (wt === null && ht === null) continue;
      if (wt === null || ht === null) {
        problems.push(`${at}: ${kind} operand differs`);
        continue;
      }
      const expected = kind === 'rip' ? mapRip(wt) : mapCode(wt);
      if (typeof expected !== 'string' && expected === ht) continue;
      // Data operands may legitimately reach a different address holding the same thing.
      const same = kind === 'rip' ? sameData(p, wt, ht, mapCode, newRva, size) : sameImportThunk(p, wt, ht);
      if (same === true) continue;
      if (typeof same === 'string') problems.push(`${at}: ${same}`);
      else if (typeof expected === 'string') problems.push(`${at}: ${expected}`);
      else problems.push(`${at}: ${kind} reaches ${ht.toString(16)}, expected ${expected.toString(16)}`);
    }
    if (w.branch === null && w.rip === null && w.bytes.some((b, k) => b !== h.bytes[k])) problems.push(`${at}: bytes differ`);
  }
  return problems;
}

/**
 * See the module comment. `names` are the changed functions to check. `oldBytes` and
 * `newBytes` supply the symbol names (pass the unstripped files when the image and the
 * package come from stripped ones: same layout). With `pkg` (the applied package), bodies
 * are matched to names through the package's new RVAs, so packages built from stripped
 * files (no names) are checked too.
 */
export function checkThroughRedirects(img: ProcessImage, plan: WritePlan, oldBytes: Uint8Array, newBytes: Uint8Array, names: readonly string[], pkg?: HotpatchPackage): string[] {
  const oldPe = parsePe(oldBytes);
  const newPe = parsePe(newBytes);
  if (!oldPe.ok || !newPe.ok) return ['cannot parse the pair'];
  const newMapped = mapImage(newBytes, newPe.value.optionalHeader.imageBase);
  if (!newMapped.ok) return ['cannot map the new image'];
  const bodyOf = new Map<string | null, WritePlan['functions'][number]>();
  plan.functions.forEach((f, i) => {
    const rec = pkg?.functions[i];
    const name = rec === undefined ? f.name : (nearestSymbol(newPe.value, rec.newRva)?.name ?? null);
    bodyOf.set(name, f);
  });
  const newIat = new Map<number, string>();
  for (const d of newPe.value.imports) for (const s of d.symbols) newIat.set(s.iatRva, stubKey(d.dll, s.name, s.ordinal));
  const newPointers = new Set<number>(newPe.value.relocations.entries.filter((r) => r.type === 10).map((r) => r.rva as number));
  const pair: Pair = { img, oldPe: oldPe.value, newPe: newPe.value, newMapped: newMapped.value, newBase: newPe.value.optionalHeader.imageBase, bodyOf, newIat, newPointers };
  const problems: string[] = [];
  for (const name of names) {
    const oldRva = symbolRva(oldPe.value, name);
    const newRva = symbolRva(newPe.value, name);
    const placed = bodyOf.get(name);
    if (oldRva === undefined || newRva === undefined || placed === undefined) {
      problems.push(`${name}: not found`);
      continue;
    }
    const body = followRedirect(img, img.base + BigInt(oldRva));
    if (body === null) {
      problems.push(`${name}: no jump to a new body at the old entry`);
      continue;
    }
    const got = img.space.read(asVa(body), placed.size);
    if (!got.ok) {
      problems.push(`${name}: body at ${body.toString(16)} unreadable: ${got.error.message}`);
      continue;
    }
    problems.push(...compareBody(pair, name, newRva, placed.size, body, got.value));
  }
  return problems;
}
