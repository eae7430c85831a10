/**
 * The package model: what a hotpatch package says, as plain TypeScript values. It mirrors
 * formats/hotpatch.proto message for message (FORMAT.md has the field tables), with three
 * conventions that the generated protobuf code does not give:
 *  - every field is present (proto3 defaults are filled in; "absent" is `null`);
 *  - oneofs are discriminated unions (`kind`);
 *  - 64-bit values are `bigint` (never a lossy number, never a Long); RVAs are branded `Rva`.
 * The compiler builds a `HotpatchPackage` and hands it to `encodePackage`; `loadPackage`
 * returns one after every check has passed.
 */
import type { Rva } from '../common/types.ts';

/** Container format version this code writes and the newest major it reads. */
export const FORMAT_MAJOR = 2;
/** Minor version this code writes; minors only add optional fields, so any minor is read. */
export const FORMAT_MINOR = 9;

/**
 * Bytes of `TargetIdentity.relied_sha256` the compiler writes since format 2.8: the first 16
 * bytes of the SHA-256 (FORMAT.md, "TargetIdentity"). Readers also accept the whole 32-byte
 * digest that 1.x-2.7 writers wrote.
 */
export const RELIED_HASH_LENGTH = 16;

/** Whether a package's relied hash (16 or 32 bytes) is the start of `digest`, the full SHA-256 of the relied bytes. */
export function reliedHashMatches(digest: Uint8Array, given: Uint8Array): boolean {
  if (given.length !== RELIED_HASH_LENGTH && given.length !== 32) return false;
  for (let i = 0; i < given.length; i++) if (digest[i] !== given[i]) return false;
  return true;
}

/** A range of image RVAs. */
export interface RvaRange {
  readonly rva: Rva;
  readonly length: number;
}

/** The RSDS CodeView record from the image's debug directory. */
export interface CodeView {
  /** 16 bytes, in file order. */
  readonly guid: Uint8Array;
  readonly age: number;
  readonly pdbPath: string;
}

/** Which image the package applies to (FORMAT.md, "Target identity"). */
export interface TargetIdentity {
  /** IMAGE_FILE_HEADER.Machine. */
  readonly machine: number;
  readonly timeDateStamp: number;
  readonly sizeOfImage: number;
  readonly checkSum: number;
  /** Preferred ImageBase (u64). */
  readonly imageBase: bigint;
  readonly codeView: CodeView | null;
  readonly moduleName: string;
  /** Sorted, disjoint, non-adjacent ranges whose bytes the package depends on. */
  readonly reliedRanges: readonly RvaRange[];
  /** SHA-256 of the bytes of `reliedRanges` concatenated in order, its first 16 bytes since 2.8 (RELIED_HASH_LENGTH; 32 before). */
  readonly reliedSha256: Uint8Array;
}

/** Cumulative series: sequence N supersedes N-1 of the same baseline. */
export interface Series {
  readonly baselineId: string;
  readonly sequence: number;
}

/**
 * One delta op: copy from the base range, insert literal bytes, or (since 1.2) add: append
 * `base[offset + i] + bytes[i]` (mod 256) for each i, a copy with byte edits whose mostly
 * zero `bytes` compress to almost nothing.
 */
export type DeltaOp =
  | { readonly kind: 'copy'; readonly offset: number; readonly length: number }
  | { readonly kind: 'literal'; readonly bytes: Uint8Array }
  | { readonly kind: 'add'; readonly offset: number; readonly bytes: Uint8Array };

/** An op as a package stores it: a DeltaOp, or (2.2) a sealed one. */
export type StoredOp = DeltaOp | SealedOp;

/**
 * Since 2.2 (FORMAT.md, "Sealed bytes"): a literal or add op whose bytes are the next `length`
 * bytes of the package's sealed frame. formats/seal.ts (unsealPackage) turns it back into the
 * literal or add op; nothing applies a delta that still holds one (applyDelta refuses it).
 */
export type SealedOp =
  | { readonly kind: 'sealed-literal'; readonly length: number }
  | { readonly kind: 'sealed-add'; readonly offset: number; readonly length: number };

/** How a block's bytes are stored. */
export type BlockBytes =
  | { readonly kind: 'literal'; readonly bytes: Uint8Array }
  | {
      readonly kind: 'delta';
      /** The old-image range the copies read from. */
      readonly base: RvaRange;
      /**
       * SHA-256 of the base range's bytes (image mapped at its preferred base); since 2.1 empty:
       * the base lies inside the relied ranges and their hash pins it.
       */
      readonly baseSha256: Uint8Array;
      /** Length of the result. */
      readonly size: number;
      readonly ops: readonly StoredOp[];
      /**
       * Implicit fixups (since 1.2; formats/implicit-fixups.ts): fields of the result that a
       * copy op brought from the base and that keep pointing where the old field pointed.
       * Absent (or both lists empty) when the delta has none.
       */
      readonly implicit?: ImplicitFixups;
      /**
       * Since 2.1: more old-image ranges after `base`; copy and add offsets address `base`
       * followed by these, in order (formats/intra-refs.ts). Absent or empty when none.
       */
      readonly extraBase?: readonly RvaRange[];
      /** Since 2.1: fields that point inside the result, rebuilt from the copy alignment (formats/intra-refs.ts). */
      readonly intra?: IntraRefs;
      /**
       * Since 2.6 (formats/ref-scan.ts): present when the delta leaves its call fields to a
       * scan of the result, every E8 rel32 field inside one copy op being implicit except at
       * these offsets (ascending). openRefScans turns them into `implicit` fields.
       */
      readonly refScan?: readonly number[];
      /**
       * Since 2.9 (formats/ref-scan.ts, storage `delta_with_literal_scan`, only beside
       * `refScan`): the scan also takes candidates inside literal ops, each derived as a REL32 fixup from its context place (openRefScans adds them to the block's fixups).
       */
      readonly scanLiterals?: true;
    }
  | SealedBytes;

/**
 * Since 2.2 (FORMAT.md, "Sealed bytes"): the block's bytes are `length` bytes of the package's
 * sealed frame (HotpatchPackage.sealed), taken in block order. formats/seal.ts
 * (unsealPackage) turns them back into literal bytes against the checked old image.
 */
export interface SealedBytes {
  readonly kind: 'sealed';
  readonly length: number;
}

/**
 * Since 2.2: one zstd frame holding the bytes of every block stored as `sealed` (code blocks
 * in order, then data blocks), compressed with the old-image bytes of `dictionary` (each
 * range inside the relied ranges, concatenated in order) as a raw-content dictionary.
 */
export interface Sealed {
  readonly dictionary: readonly RvaRange[];
  readonly frame: Uint8Array;
}

/**
 * Fields of a delta's result that point inside the result (FORMAT.md, "Intra-block
 * references"): branches and RIP-relative operands between parts of the block, and jump
 * tables of entries relative to the table. Each lies inside one copy op (or an add op adding
 * 0 to it); the runtime reads the old field at the copy's source, finds the old target, maps
 * it through the ops to its place in the result and writes the new distance. Offsets
 * strictly ascending per list; no two fields of any list overlap.
 */
export interface IntraRefs {
  /** 4-byte fields relative to their own end (rel32 branches, RIP-relative disp32). */
  readonly rel32: readonly number[];
  /** 1-byte fields relative to their own end (short branches). */
  readonly rel8: readonly number[];
  /**
   * Tables of `count` 4-byte entries at `offset`, relative to the table's start `offset -
   * back` (a run of a table whose other entries are stored as bytes has back > 0).
   */
  readonly tables: ReadonlyArray<{ readonly offset: number; readonly count: number; readonly back: number }>;
}

/**
 * Fields of a delta's result whose old reference is kept (FORMAT.md, "Implicit fixups"):
 * each lies inside one copy op, and the runtime re-targets it to the address the old field
 * at the copy's source points at. Offsets into the result, strictly ascending, fields
 * disjoint.
 */
export interface ImplicitFixups {
  /** 4-byte fields relative to their own end, as rel32 and rip-disp32 (value S + A - P). */
  readonly rel32: readonly number[];
  /** 8-byte absolute addresses (value S + A). */
  readonly abs64: readonly number[];
  /**
   * Since 2.3: 4-byte relative fields whose old target the package moved (formats/moves.ts):
   * the entry of a changed function (to its block) or a place in a data block's `replaces`
   * range (to the same offset in the block). Absent when none.
   */
  readonly moved?: readonly number[];
  /**
   * Since 2.5: 8-byte absolute fields whose old target the package moved (formats/moves.ts),
   * as `moved` for relative ones: a pointer in a replaced data block to a place in a replaced
   * range (its own, most often) or to a changed function's entry. Absent when none.
   */
  readonly moved64?: readonly number[];
}

/** Fixup kinds; widths in FIXUP_WIDTH (formats/validate.ts), formulas in FORMAT.md. */
export type FixupKind = 'rel32' | 'rel8' | 'abs64' | 'rip-disp32' | 'addr32nb' | 'imagerel32';

/** What a fixup's S (symbol address) is. */
export type FixupTarget =
  | { readonly kind: 'image'; readonly rva: Rva }
  | { readonly kind: 'block'; readonly blockId: number; readonly offset: number }
  | { readonly kind: 'import-slot'; readonly index: number }
  | { readonly kind: 'import-address'; readonly index: number }
  /**
   * This code block's own unwind info + offset (since 1.1): only in unwind fixups, where
   * exception-handler tables carried in the unwind blob point at each other.
   */
  | { readonly kind: 'unwind'; readonly offset: number };

/**
 * A place the runtime completes. Relative kinds store S + A - P (P = address of the field,
 * so a rel32 branch has A = -4 plus any displacement); abs64 stores S + A; addr32nb stores
 * S + A - B with B the package's unwind base (a u32, as in .pdata and UNWIND_INFO handler
 * RVAs; only allowed in unwind data). The runtime picks B = min(patch region, image base) and
 * registers the package's function table with that BaseAddress. imagerel32 stores S + A - L
 * with L the target image's load base, and must lie in 0..2^31-1 (MSVC switch code reads
 * `[__ImageBase + idx*4 + disp32]` and adds __ImageBase to the zero-extended entry), so the
 * runtime places a package holding one above the image, within 2 GB of its base.
 */
export interface Fixup {
  readonly kind: FixupKind;
  /** Start of the field inside its block (or inside the unwind info). */
  readonly offset: number;
  readonly target: FixupTarget;
  /** A, signed 64-bit. */
  readonly addend: bigint;
}

/** RUNTIME_FUNCTION relative to its block; unwindInfoOffset points into Unwind.unwindInfo. */
export interface RuntimeFunction {
  readonly beginOffset: number;
  readonly endOffset: number;
  readonly unwindInfoOffset: number;
}

/** x64 unwind data of a code block. */
export interface Unwind {
  readonly runtimeFunctions: readonly RuntimeFunction[];
  /** UNWIND_INFO structures (and their handler data), as one blob; empty while `infoDelta` stands for it. */
  readonly unwindInfo: Uint8Array;
  /** Fixups inside unwindInfo (handler RVAs, chained entries: addr32nb). */
  readonly unwindFixups: readonly Fixup[];
  /**
   * Since 2.3: the blob as a delta against old-image bytes (the old function's UNWIND_INFO and
   * handler data; copy, literal and add ops, extra base ranges, no hash, implicit or intra
   * fields), `unwindInfo` then empty. formats/unwind-ref.ts (openUnwinds) turns it into the
   * literal blob against the checked old image. Absent for a literal blob.
   */
  readonly infoDelta?: Extract<BlockBytes, { kind: 'delta' }>;
  /**
   * Since 2.4, with `infoDelta` only: offsets (ascending) of 4-byte ADDR32NB fields of the
   * blob that `unwindFixups` leaves out, each derived from the old field at its copy source
   * (formats/unwind-ref.ts impliedUnwindFixup). Absent when none.
   */
  readonly implicitAddr32nb?: readonly number[];
  /**
   * Since 2.8, with `infoDelta` only: the delta's first base range starts at the UNWIND_INFO of
   * the old image's .pdata entry beginning at `old_rva` of the block's one changed record
   * (FORMAT.md "Unwind base from .pdata"); its written rva is left out (0 once decoded) and
   * formats/unwind-ref.ts (openUnwinds) finds it in the checked old image. Absent otherwise.
   */
  readonly basePdata?: true;
}

/** New or changed code. */
export interface CodeBlock {
  /** Shares one id namespace with data blocks. */
  readonly id: number;
  /** Power of two, 1..4096. */
  readonly alignment: number;
  readonly bytes: BlockBytes;
  readonly fixups: readonly Fixup[];
  readonly unwind: Unwind | null;
}

/** New read-only data. */
export interface DataBlock {
  readonly id: number;
  readonly alignment: number;
  readonly bytes: BlockBytes;
  readonly fixups: readonly Fixup[];
  /**
   * Since 2.3: the old-image range this block replaces (its old counterpart). A delta's moved
   * fields (ImplicitFixups.moved) whose old target lies in it point at the same offset here.
   */
  readonly replaces?: RvaRange;
}

/** An import the old image lacks, resolved at apply time. */
export interface Import {
  readonly dll: string;
  readonly symbol: { readonly kind: 'name'; readonly name: string } | { readonly kind: 'ordinal'; readonly ordinal: number };
}

/** How a redirect jumps from the old entry to the new body (FORMAT.md, "Redirect"). */
export type RedirectKind = 'jmp-rel32' | 'jmp-abs64' | 'short-to-pad';

/** Bytes each redirect kind writes at the entry (and at the pad for short-to-pad). */
export const REDIRECT_SITE_LENGTH: Readonly<Record<RedirectKind, number>> = { 'jmp-rel32': 5, 'jmp-abs64': 14, 'short-to-pad': 2 };
/** Bytes a short-to-pad redirect writes at its pad (an E9 rel32). */
export const REDIRECT_PAD_LENGTH = 5;

/** The jump that sends an old function's callers to its new body. */
export interface Redirect {
  readonly oldRva: Rva;
  readonly target: { readonly blockId: number; readonly offset: number };
  readonly kind: RedirectKind;
  /** The original bytes the jump overwrites at oldRva (REDIRECT_SITE_LENGTH[kind] bytes). */
  readonly expected: Uint8Array;
  /** short-to-pad: where the long jump goes, and the original bytes there; otherwise null. */
  readonly pad: { readonly rva: Rva; readonly expected: Uint8Array } | null;
}

/** A changed function is redirected; an added one is only called from other new code. */
export type FunctionStatus = 'changed' | 'added';

/** What the compiler did with one function. */
export interface FunctionRecord {
  readonly name: string | null;
  /** Null for added functions. */
  readonly oldRva: Rva | null;
  readonly newRva: Rva;
  readonly status: FunctionStatus;
  /** 0 for added functions. */
  readonly oldSize: number;
  readonly newSize: number;
  readonly blockId: number;
  readonly blockOffset: number;
}

/** Who built the package, and the parameters that change its contents. */
export interface Producer {
  readonly compilerVersion: string;
  readonly parameters: ReadonlyArray<{ readonly key: string; readonly value: string }>;
}

/** A whole hotpatch package. */
export interface HotpatchPackage {
  readonly target: TargetIdentity;
  readonly series: Series;
  readonly codeBlocks: readonly CodeBlock[];
  readonly dataBlocks: readonly DataBlock[];
  readonly imports: readonly Import[];
  readonly redirects: readonly Redirect[];
  readonly functions: readonly FunctionRecord[];
  readonly producer: Producer;
  /** Since 2.2: the sealed blocks' bytes; absent when no block is sealed. */
  readonly sealed?: Sealed;
  /**
   * Since 2.4: OLD ranges (sorted, disjoint) no thread may be inside, by RIP or by a return
   * address on its stack, when the redirects are written: the old bodies of changed callers
   * that call a changed callee whose new entry reads arguments its old entry did not (a thread
   * there would call the new callee the old way). Absent or empty: none.
   */
  readonly quiescent?: readonly RvaRange[];
}
