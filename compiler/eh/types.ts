/**
 * The common shape of parsed x64 exception-handler data (the bytes after an UNWIND_INFO's
 * handler RVA, and the out-of-line tables they point to), whatever the handler routine:
 * GS cookie checks, `__C_specific_handler` scope tables, MSVC C++ FuncInfo (FH3) and the
 * compressed FuncInfo4 (FH4). Each parser reads NEW and says which bytes to copy and which
 * 4-byte fields hold image-relative addresses (RVAs) that must be re-targeted at patched
 * OLD; the emitter and the verifier treat every form alike from here on.
 */
import type { Rva } from '../../common/types.ts';
import type { RvaRange } from '../image/types.ts';

/** One 4-byte field holding an image-relative address (an RVA in NEW). */
export interface HandlerRvaField {
  /** Offset of the field from the start of the structure it is in. */
  readonly offset: number;
  /** The NEW RVA stored in the field. */
  readonly target: number;
  /** What the field points at, for messages and checks. */
  readonly role: HandlerFieldRole;
}

/**
 * `table`: another structure of the same handler data (re-targeted at its carried copy);
 * `code`: an address inside the function the data belongs to (IP-to-state entries, scope
 * begin/end, continuation addresses); `function`: the entry of another function (funclets,
 * filters, unwind actions); `data`: a data item (TypeDescriptors, catch objects' types).
 */
export type HandlerFieldRole = 'table' | 'code' | 'function' | 'data';

/** A contiguous run of NEW image bytes that the handler data is made of. */
export interface HandlerStructure {
  /** Where it is in NEW. */
  readonly rva: Rva;
  /** Its length in bytes. */
  readonly length: number;
  /** Its RVA fields; everything else is copied as it is. */
  readonly fields: readonly HandlerRvaField[];
}

/** The handler forms this compiler knows how to read. */
export type HandlerForm = 'gs' | 'c-scope' | 'gs-c-scope' | 'fh3' | 'gs-fh3' | 'fh4' | 'gs-fh4';

/** Handler data of one UNWIND_INFO, parsed. */
export interface ParsedHandlerData {
  readonly form: HandlerForm;
  /** The bytes directly after the handler RVA (their `rva` is where they start in NEW). */
  readonly inline: HandlerStructure;
  /** Out-of-line structures (FuncInfo and its maps) reached from the inline bytes. */
  readonly structures: readonly HandlerStructure[];
  /**
   * Entries of other functions (catch/unwind funclets) whose code runs on this function's
   * frame and whose own unwind info shares these structures: they are carried with it.
   */
  readonly funclets: readonly number[];
}

/** One contiguous code range of a function, [start, end) in RVAs. */
export type HandlerRange = RvaRange;

/**
 * What a parser needs to know about the image and the function the data belongs to. Every
 * parser gets the same context (compiler/eh/parse-handler-data.ts builds it), so the
 * dispatcher treats all forms alike.
 */
export interface HandlerDataContext {
  /** The image as the loader lays it out (bytes at their RVAs). */
  readonly image: Uint8Array;
  /** BeginAddress of the RUNTIME_FUNCTION whose UNWIND_INFO holds the data. */
  readonly functionStart: Rva;
  /** The owning function's code ranges (main body first). */
  readonly ranges: readonly HandlerRange[];
  /** True when `rva` is the BeginAddress of a .pdata entry (funclets and filters must be). */
  readonly isFunctionStart: (rva: number) => boolean;
  /** True when `rva` lies in an executable section. */
  readonly isCode: (rva: number) => boolean;
  /** True when `rva` lies in a section that is not executable (TypeDescriptors). */
  readonly isData: (rva: number) => boolean;
  /**
   * Bytes the prolog puts on the stack (pushes and allocations, from the unwind codes), or
   * null when the codes cannot be read: a GS cookie lies inside this frame.
   */
  readonly frameSize: number | null;
}

/**
 * Parses the handler data starting at `dataRva` (the byte after the handler RVA) as `form`.
 * Garbage gives an error value naming what failed, never a throw.
 */
export type HandlerParser = (ctx: HandlerDataContext, dataRva: Rva, form: HandlerForm) => import('../../common/errors.ts').Result<ParsedHandlerData>;
