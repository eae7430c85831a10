/** What emission takes and gives. */
import type { Fixup, HotpatchPackage } from '../../formats/package.ts';

/** Build parameters that change what the package holds. */
export interface EmitOptions {
  /** File name of the module the package targets, e.g. `logic.dll`. */
  readonly moduleName: string;
  /** Leave refused changes out instead of failing. */
  readonly skipRefused: boolean;
  /**
   * With `skipRefused`: leave out only what cannot be emitted (and its exception-handling
   * group), not the functions next to it that the left-old rule would also leave out. For size
   * estimates of a complete package that is never applied (bench/complete-package.ts).
   */
  readonly estimateOnly?: true;
  /**
   * Store every unwind blob literally, never by reference to OLD's unwind data (format 2.3,
   * compiler/emit/unwind-refs.ts): the 2.2 form, for tests and size comparisons.
   */
  readonly literalUnwind?: true;
  /** Series membership; null gives a baseline named after the old image, sequence 1. */
  readonly series: { readonly baselineId: string; readonly sequence: number } | null;
  readonly compilerVersion: string;
}

/** Something the package leaves out, and why. */
export interface Omission {
  readonly what: string;
  readonly reason: string;
}

/** A package and what went into it. */
export interface EmittedPackage {
  readonly pkg: HotpatchPackage;
  readonly omitted: readonly Omission[];
  /** New-function index -> code block id. */
  readonly blockOf: ReadonlyMap<number, number>;
  readonly sizes: { readonly code: number; readonly data: number; readonly unwind: number; readonly fixups: number };
  /** Emission passes run: one, plus one per growth of the glued runs or --skip-refused drop. */
  readonly passes: number;
  /** Delta blocks whose literal form may seal smaller (compiler/emit/deltas.ts CLOSE_SHARE). */
  readonly literalForms?: readonly LiteralForm[];
}

/** A delta block's bytes and fixups as a literal block, and its delta's share of the literal's encoded size. */
export interface LiteralForm {
  readonly blockId: number;
  readonly share: number;
  readonly bytes: Uint8Array;
  readonly fixups: readonly Fixup[];
}
