/**
 * Self-relative data tables: LLVM's relative lookup tables.
 *
 * clang turns a switch that returns one of several constant pointers (an enum -> name
 * function) into a read-only table of 32-bit offsets relative to the table itself, read by
 *
 *     cmp   ecx, N-1 ; ja default
 *     lea   rT, [rip + T]
 *     movsxd rX, dword [rT + rI*4]
 *     add   rX, rT                 ; rX = T + T[i]: a data pointer (not a jump: no jmp rX)
 *
 * The entries are not base-relocated, so nothing else in the image says they are pointers.
 * Each entry's meaning depends on where the table is: a copy at another address (a carried
 * data block) must have every entry re-based, and a comparison of two builds must compare
 * what the entries point at, not their bytes (a string that changes in place keeps the
 * bytes of the table). This module finds such tables from the code that reads them; the
 * analysis makes their entry targets data items, the normaliser tokenises the entries, the
 * emitter writes them as rel32 fixups (addend = the entry's offset in the table) and the
 * verifier re-derives each from the patched image.
 */
import { Decoder, DecoderOptions, Instruction, MemorySize, Mnemonic, OpKind, Register, RegisterExt } from 'iced-x86';
import type { Rva } from '../../common/types.ts';
import { sectionAt, type MappedImage } from '../image/map-image.ts';
import type { DecodedInsn, FunctionInfo } from '../image/types.ts';

/** A self-relative table: `count` int32 entries at `rva`, entry i pointing at rva + entry. */
export interface RelativeTable {
  /**
   * The `lea`'s decoded target, checked by nothing (a table none of whose entries fit in the
   * image is still listed, with count null): a plain number, as compiler/README.md ("Address
   * types") keeps a decoded displacement; likewise the entry targets.
   */
  readonly rva: number;
  /** Entries the bound check allows; null when no bound was found (never carried then). */
  readonly count: number | null;
  /** Target RVA of each entry (empty when `count` is null). */
  readonly targets: readonly number[];
  /**
   * With no bound (`count` null): the entries read by scanning, up to the first whose target
   * is not in a read-only data section (4096 at most). Never carried or checked: only the
   * diff keys the table by them, so that a change of what a true entry points at (a string
   * changed in place: the table's bytes stay) still changes the functions that read it,
   * which are then refused RELATIVE_TABLE_UNBOUNDED. The true entries are a prefix of these
   * (each points at read-only data); extra ones can only add change. Empty with a bound.
   */
  readonly scanned: readonly number[];
  /** Entry of the function whose code reads it (the first found). */
  readonly fnEntry: Rva;
}

const full = (r: Register): Register => (r === Register.None ? r : RegisterExt.fullRegister(r));

/** Finds the self-relative tables the functions' code reads. */
export function findRelativeTables(img: MappedImage, fns: readonly FunctionInfo[]): Map<number, RelativeTable> {
  const out = new Map<number, RelativeTable>();
  const decoder = new Decoder(64, img.image, DecoderOptions.None);
  const at = (rva: number): Instruction => {
    decoder.position = rva;
    decoder.ip = BigInt(rva);
    return decoder.decode();
  };
  try {
    for (const f of fns) {
      const jumpTables = new Set<number>(f.decoded.jumpTables.map((t) => t.rva));
      const insns = inAddressOrder(f.decoded.insns);
      const refs = f.decoded.refs;
      let entered: ReadonlySet<number> | undefined;
      for (let k = 0; k < insns.length; k++) {
        const di = insns[k]!;
        // A RIP-relative operand is a riprel32 reference (decode-function.ts): only those can be the lea.
        let riprel = false;
        for (let r = di.refIndex; r < di.refIndex + di.refCount; r++) if (refs[r]!.kind === 'riprel32') riprel = true;
        if (!riprel || !mayBeLea(img.image, di.rva, di.length)) continue;
        const lea = at(di.rva);
        try {
          if (lea.mnemonic !== Mnemonic.Lea || !lea.isIpRelMemoryOperand) continue;
          const T = Number(lea.ipRelMemoryAddress);
          if (jumpTables.has(T) || out.has(T)) continue;
          const rT = full(lea.op0Register);
          const rI = readsRelative(insns, k, at, rT);
          if (rI === null) continue;
          const count = boundBefore(insns, k, at) ?? siblingBound(insns, k, at, T, rI, (entered ??= enteredAt(f)));
          const targets: number[] = [];
          const dv = new DataView(img.image.buffer, img.image.byteOffset, img.image.byteLength);
          if (count !== null) {
            for (let i = 0; i < count; i++) {
              const e = T + 4 * i;
              if (e + 4 > img.image.length) break;
              targets.push(T + dv.getInt32(e, true));
            }
          }
          const bounded = count !== null && targets.length === count;
          out.set(T, { rva: T, count: bounded ? count : null, targets: bounded ? targets : [], scanned: bounded ? [] : scanEntries(img, dv, T), fnEntry: f.entry });
        } finally {
          lea.free();
        }
      }
    }
  } finally {
    decoder.free();
  }
  return out;
}

/** The entries of an unbounded table at T, up to the first not pointing at read-only data (see RelativeTable.scanned). */
function scanEntries(img: MappedImage, dv: DataView, T: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < 4096; i++) {
    const e = T + 4 * i;
    if (e < 0 || e + 4 > img.image.length) break;
    const x = T + dv.getInt32(e, true);
    const sec = sectionAt(img, x);
    if (sec === undefined || sec.executable || sec.writable || x >= sec.rva + sec.rawSize) break;
    out.push(x);
  }
  return out;
}

/** Where the function's branches and jump-table cases land. */
function enteredAt(f: FunctionInfo): ReadonlySet<number> {
  const out = new Set<number>();
  for (const r of f.decoded.refs) if (r.isBranch) out.add(r.target);
  for (const t of f.decoded.jumpTables) for (const x of t.targets) out.add(x);
  return out;
}

/**
 * False when the instruction's bytes cannot be a `lea`: LEA has one encoding, opcode 0x8d
 * (no VEX or EVEX form), so its bytes hold 0x8d. Most RIP-relative instructions are loads,
 * stores and calls without that byte, and skip the decode (a wasm call and an Instruction).
 */
function mayBeLea(image: Uint8Array, rva: number, length: number): boolean {
  for (let k = rva, end = Math.min(image.length, rva + length); k < end; k++) if (image[k] === 0x8d) return true;
  return false;
}

/** The instructions sorted by address (decoding already sorts them: then as they are). */
function inAddressOrder(insns: readonly DecodedInsn[]): readonly DecodedInsn[] {
  for (let k = 1; k < insns.length; k++) if (insns[k]!.rva < insns[k - 1]!.rva) return [...insns].sort((a, b) => a.rva - b.rva);
  return insns;
}

/**
 * After the lea at insns[k]: `movsxd rX,[rT+rI*4]` then `add rX,rT`, and no `jmp rX`: the
 * index register rI (full width), or null when the lines do not read a relative table.
 */
function readsRelative(insns: ReadonlyArray<{ rva: number }>, k: number, at: (rva: number) => Instruction, rT: Register): Register | null {
  let rX: Register | null = null;
  let rI: Register = Register.None;
  for (let j = k + 1; j < Math.min(insns.length, k + 6); j++) {
    const x = at(insns[j]!.rva);
    try {
      if (rX === null) {
        if (x.mnemonic === Mnemonic.Movsxd && x.op1Kind === OpKind.Memory && full(x.memoryBase) === rT && x.memoryIndexScale === 4 && x.memoryDisplacementU64 === 0n) {
          rX = full(x.op0Register);
          rI = full(x.memoryIndex);
        } else if (x.op0Kind === OpKind.Register && full(x.op0Register) === rT) {
          // rT set again (the next table's `lea`, when LLVM reads a lengths table and then the
          // relative one through the same register): this lea's table is not what is read.
          return null;
        }
        continue;
      }
      if (x.mnemonic === Mnemonic.Add && x.op0Kind === OpKind.Register && x.op1Kind === OpKind.Register && full(x.op0Register) === rX && full(x.op1Register) === rT) {
        const next = j + 1 < insns.length ? at(insns[j + 1]!.rva) : null;
        try {
          // `jmp rX` right after is a jump table (the decoder's business), not data.
          return next === null || !(next.mnemonic === Mnemonic.Jmp && next.op0Kind === OpKind.Register) ? rI : null;
        } finally {
          next?.free();
        }
      }
    } finally {
      x.free();
    }
  }
  return null;
}

/**
 * The entry count a sibling table bounds, or null. Rust (LLVM) turns `match e { A => "a",
 * ... }` returning a `&str` into two lookup tables read with one index: the lengths,
 * `lea rS,[rip+S]; mov rL,[rS+rI*8]`, then the pointers relative to T, the lea at insns[k]
 * and `movsxd rX,[rT+rI*4]`, with no bound check at all (the compiler knows the enum's
 * range). Two objects of the image do not overlap, so when S lies below T every index the
 * code reads the lengths with satisfies S + 8 * (i + 1) <= T: the relative table is read at
 * no more than (T - S) / 8 indices. Required on the straight line just before the lea (at
 * most 4 instructions back, and no branch or case landing after the sibling load: code
 * entering there could bring an index the lengths were never read with): the sibling's load
 * with the same index register, its base set by a RIP-relative `lea` right before it (no
 * branch landing on the load either), and no write of the index register from it on. An
 * 8-byte-aligned lengths table ends less than 8 bytes before T, so the floor is exact.
 * A wrong layout (S's object larger, overlapping T) cannot happen in a linked image.
 */
function siblingBound(insns: ReadonlyArray<{ rva: number; length: number }>, k: number, at: (rva: number) => Instruction, T: number, rI: Register, entered: ReadonlySet<number>): number | null {
  if (rI === Register.None) return null;
  let prevStart = insns[k]!.rva;
  for (let j = k - 1; j >= Math.max(1, k - 4); j--) {
    const p = insns[j]!;
    // One straight line, which no branch (or case) enters after the sibling load.
    if (p.rva + p.length !== prevStart || entered.has(prevStart)) return null;
    prevStart = p.rva;
    const x = at(p.rva);
    try {
      const scale = x.memoryIndexScale;
      const isLoad = (x.mnemonic === Mnemonic.Mov || x.mnemonic === Mnemonic.Movzx || x.mnemonic === Mnemonic.Movsxd) && x.op1Kind === OpKind.Memory && x.memoryDisplacementU64 === 0n && full(x.memoryIndex) === rI;
      if (!isLoad) {
        if (x.op0Kind === OpKind.Register && full(x.op0Register) === rI) return null;
        continue;
      }
      const rS = full(x.memoryBase);
      const q = insns[j - 1]!;
      if (q.rva + q.length !== p.rva || entered.has(p.rva)) return null;
      const lea = at(q.rva);
      try {
        if (lea.mnemonic !== Mnemonic.Lea || !lea.isIpRelMemoryOperand || full(lea.op0Register) !== rS) return null;
        const S = Number(lea.ipRelMemoryAddress);
        const size = x.memorySize === MemorySize.UInt64 || x.memorySize === MemorySize.Int64 ? 8 : x.memorySize === MemorySize.UInt32 || x.memorySize === MemorySize.Int32 ? 4 : 0;
        if (size === 0 || scale !== size || S >= T) return null;
        const n = Math.floor((T - S) / size);
        return n >= 1 && n <= 4096 ? n : null;
      } finally {
        lea.free();
      }
    } finally {
      x.free();
    }
  }
  return null;
}

/** The entry count a `cmp reg, imm` + `ja`/`jae` just before the lea allows, or null. */
function boundBefore(insns: ReadonlyArray<{ rva: number }>, k: number, at: (rva: number) => Instruction): number | null {
  for (let j = k - 1; j >= Math.max(0, k - 6); j--) {
    const c = at(insns[j]!.rva);
    try {
      // Not IMMEDIATE_KINDS: a 16-bit `cmp r16, imm` is no table bound here.
      if (c.mnemonic !== Mnemonic.Cmp || c.op0Kind !== OpKind.Register || (c.op1Kind !== OpKind.Immediate8to32 && c.op1Kind !== OpKind.Immediate32 && c.op1Kind !== OpKind.Immediate8to64 && c.op1Kind !== OpKind.Immediate32to64 && c.op1Kind !== OpKind.Immediate8)) continue;
      const n = j + 1 < insns.length ? at(insns[j + 1]!.rva) : null;
      try {
        const imm = Number(BigInt.asIntN(64, c.immediate(1)));
        if (imm < 0 || imm > 4096) return null;
        if (n?.mnemonic === Mnemonic.Ja) return imm + 1;
        if (n?.mnemonic === Mnemonic.Jae) return imm;
        return null;
      } finally {
        n?.free();
      }
    } finally {
      c.free();
    }
  }
  return null;
}
