/**
 * The shapes every compiler stage reads: code ranges, decoded functions with their
 * references and jump tables, discovered functions and the data items between them.
 * Addresses are RVAs of the image they were read from (`Rva`); sizes and offsets are plain
 * numbers. Types only: the stages that build these values own the code (disasm decodes,
 * functions discovers, match finds data items).
 */
import type { FlowControl } from 'iced-x86';
import type { Rva } from '../../common/types.ts';
import type { RuntimeFunction } from '../../runtime/pe/types.ts';

/** How a reference field encodes its target. */
export type RefKind = 'rel8' | 'rel32' | 'riprel32' | 'abs64' | 'abs32' | 'imagerel32';

/** One field of one instruction that points somewhere in the image. */
export interface Reference {
  readonly kind: RefKind;
  /** RVA of the field's first byte. */
  readonly fieldRva: Rva;
  /** Field size in bytes (1, 4 or 8). */
  readonly size: number;
  /** RVA of the instruction holding the field, and of the next one (rel fields count from it). */
  readonly insnRva: Rva;
  readonly insnEnd: Rva;
  /**
   * Target RVA. A plain number, not an `Rva`: for odd code it may lie outside every section,
   * even below 0 or above 4 GiB (later stages refuse such targets).
   */
  readonly target: number;
  /** True for call instructions (call-graph edges). */
  readonly isCall: boolean;
  /** True for branch instructions (jmp/jcc/call/loop): the target is code. */
  readonly isBranch: boolean;
  /**
   * True for a riprel32 field of an instruction that loads or stores at the target (not `lea`,
   * not a bit test): it names the item starting there (disasm/memory-access.ts).
   */
  readonly accessesTarget: boolean;
}

/** A switch table recovered from an indirect jump. */
export interface JumpTable {
  /** RVA of the table. */
  readonly rva: Rva;
  /** `rel32`: int32 entries relative to the table (gcc/mingw); `rva32`: image-relative entries (MSVC). */
  readonly entryKind: 'rel32' | 'rva32';
  /** Target RVA of each entry. */
  readonly targets: readonly Rva[];
  /** RVA of the `jmp reg` that uses it. */
  readonly jumpRva: Rva;
  /**
   * RVA of the first instruction the table relies on: the one that bounds the index (the
   * `cmp`, the `and`, the zero-extension of a byte) or the `lea` of the base, whichever comes
   * first. Code entering the straight line after it would bypass the bound or the base, so
   * the decoder refuses the table when a branch or case targets (guardRva, jumpRva].
   */
  readonly guardRva: Rva;
  /**
   * RVA of the instruction that bounds the index alone (guardRva without the base): a base
   * `lea` hoisted above a loop head leaves a branch entering after it but before the bound,
   * which the decoder accepts only when the base is proven on every path (base-paths.ts).
   */
  readonly boundRva: Rva;
  /**
   * `guard`: the entry count is what the bound allows. `scan`: the bound (a byte index: 256)
   * is wider than the table, so entries were read until the first that is not a case target
   * inside the function; the true cases all are, so the count covers them (extra entries
   * are never taken).
   */
  readonly count: 'guard' | 'scan';
  /**
   * RVA of the `lea` that sets the table's base: on the straight line to the jump, or (with
   * `baseHoisted`) the function's only `lea` of the base register; -1 for none.
   */
  readonly baseRva: Rva | -1;
  /**
   * The base `lea` is not on the straight line (the function's only `lea` of that register,
   * hoisted out of a loop): the decoder accepts the table only when base-paths.ts proves the
   * register holds the base on every path to the jump.
   */
  readonly baseHoisted: boolean;
}

/** One decoded instruction (details beyond these are re-decoded on demand). */
export interface DecodedInsn {
  readonly rva: Rva;
  readonly length: number;
  readonly flow: FlowControl;
  /** Index of this instruction's first reference in `refs`, and how many it has. */
  readonly refIndex: number;
  readonly refCount: number;
}

/** Half-open RVA range [start, end). */
export interface RvaRange {
  readonly start: Rva;
  readonly end: Rva;
}

/** A function's instructions and references, in address order. */
export interface DecodedFunction {
  readonly insns: readonly DecodedInsn[];
  readonly refs: readonly Reference[];
  readonly jumpTables: readonly JumpTable[];
  /** Byte ranges inside the function's ranges that no decoded instruction covers. */
  readonly gaps: readonly RvaRange[];
  /** Code targets outside the ranges that are called or jumped to (for function discovery). */
  readonly externalCodeTargets: readonly Rva[];
  /** Reasons the analysis is incomplete (undecodable bytes, unbounded indirect jump, ...). */
  readonly problems: readonly string[];
  /** Highest instruction end reached (the extent of a function without a known end). */
  readonly maxEnd: Rva;
  /**
   * Field RVAs of imagerel32 references whose base register provably holds __ImageBase: the
   * nearest write to it on the instruction's straight line is `lea base, [rip + __ImageBase]`
   * and no branch enters in between. Other imagerel32 fields are guesses (a struct offset
   * can look like an RVA) and refuse the function when it is carried.
   */
  readonly imageBaseFields: readonly Rva[];
}

/** Where a function was found. */
export type FunctionSource = 'pdata' | 'export' | 'symbol' | 'entry' | 'descent' | 'data';

/** One discovered function. */
export interface FunctionInfo {
  /** Index in `FunctionTable.functions` (address order). */
  readonly index: number;
  readonly entry: Rva;
  /** Code ranges: the main body first, then chained fragments. */
  readonly ranges: readonly RvaRange[];
  readonly sources: readonly FunctionSource[];
  /** Preferred name: export name, else symbol name, else null. */
  readonly name: string | null;
  /** Every name the function goes by (exports and symbols). */
  readonly names: readonly string[];
  /** The .pdata entries covering it (main entry first, then fragments). */
  readonly pdata: readonly RuntimeFunction[];
  readonly decoded: DecodedFunction;
}

/** All functions of one image, sorted by entry, with lookups. */
export interface FunctionTable {
  readonly functions: readonly FunctionInfo[];
  readonly byEntry: ReadonlyMap<number, FunctionInfo>;
  /** The function whose ranges contain `rva`, if any. */
  containing(rva: number): FunctionInfo | undefined;
}

/** One data item: [start, end) inside a non-executable section. */
export interface DataItem {
  readonly index: number;
  readonly start: Rva;
  readonly end: Rva;
  readonly writable: boolean;
  readonly section: string;
  /** COFF data symbol naming it, when there is one. */
  readonly name: string | null;
  /** True when the item is a jump table owned by a function. */
  readonly jumpTable: boolean;
}

