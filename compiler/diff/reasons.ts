/**
 * Every reason the diff gives, with a stable code: the refusals (a change a hotpatch cannot
 * make safely) and the two reasons a function is carried although its own code did not
 * change. The codes are a contract (`hotpatch diff --json`, `build` output, the bench group
 * by them); compiler/README.md lists them. Messages say the particulars and may change.
 */
import type { Rva } from '../../common/types.ts';

/** Code -> what it means (the README table's text). */
export const REASON_CODES = {
  // Why a function whose own form is equal is changed (hotpatchable).
  CARRIED_WITH_EH_GROUP: 'changed only to travel with its exception-handling group (parent and funclets move together)',
  JUMPS_INTO_CHANGED: 'jumps into the body (not the entry) of a changed function, so it moves with it',
  // Exception-handling groups.
  EH_GROUP_MEMBER_REFUSED: 'a member of its exception-handling group is refused',
  EH_SHARED_FUNCLET_CHANGED: 'a funclet several functions share changed: old frames of the others would run it',
  EH_NAMES_CHANGED_SHARED_FUNCLET: 'its handler data names a shared funclet that changed',
  EH_ORPHAN_FUNCLET: 'a funclet of no parent function the analysis found',
  // Code the function holds or needs.
  USES_CHANGED_GLOBAL: 'it uses a global whose layout or initial value changed',
  STRUCTURE_LAYOUT_CHANGED: 'its field accesses through one base moved by the same amount against the old body: objects built before the patch keep the old layout (needs a baseline)',
  STRUCTURE_FIELD_ADDED: 'through a pointer it received, it accesses a field its old body never accesses on that pointer, which the old body does dereference (a field added to a structure old code builds, or one the fix starts to use: the code cannot tell them apart; needs a baseline)',
  STRUCTURE_STRIDE_CHANGED: 'it walks or indexes an array it received in elements of another size than its old body does (a structure grown or shrunk that arrays built by old code keep at the old size; needs a baseline)',
  STRUCTURE_BITFIELD_CHANGED: 'it reads a word through a pointer, masks it and writes it back, as its old body does at the same offset, but with other mask, shift or bit constants (bit-fields reordered inside the word, which objects built by old code keep in the old order, or a fix that writes another flag: the code cannot tell them apart; needs a baseline), or sets and clears one-bit flags of the word at other bits in the same pattern, or decodes such a word with other constants while a changed writer packs it in another layout',
  STRUCTURE_FIELD_RETYPED: 'through a pointer it received, it accesses a field at an offset its old body accesses too, but as another type: integer where the old body used a float or the reverse, a load or store of another width, a new field inside an old scalar field, or a wider move reaching past every old access (objects built by old code keep the old type\'s bytes; needs a baseline)',
  STRUCTURE_FIELDS_SWAPPED: 'structure layout changed: fields of one structure (through one pointer, or one global) exchange offsets, every access otherwise the same (needs a baseline)',
  STRUCTURE_FIELD_MOVED: 'structure layout changed: one field of a structure it reaches through a pointer is at another offset than in its old body, every access otherwise the same, and another changed function moves the same field the same way (a field inserted, removed or resized before it; needs a baseline)',
  GLOBAL_BITFIELD_CHANGED: 'it reads, masks and writes back a word of a writable global (reached through RIP) with other mask, shift or one-bit flag constants than its old body (bit-fields of the global reordered: the running image holds the word packed in the old order, or a fix that writes another flag: the code cannot tell them apart; needs a baseline), or it reads such a word while a changed writer packs it in another layout',
  CALLER_REGISTERS_CLOBBERED: 'an old caller keeps volatile registers across its call to this function (GCC interprocedural register allocation, MSVC whole-program custom conventions), and the new body clobbers them: a thread inside the old caller, or old code left active, would lose them',
  ENTRY_ARGUMENTS_CHANGED: 'its new body reads, at entry, argument registers or caller stack slots its old body never read (a parameter added or moved), or reads them with another meaning (another role, two swapped, a middle parameter removed, two pointers whose fields moved to each other), and callers outside the module keep calling it the old way: importers of an export, holders of a pointer to it (needs a baseline)',
  FOLDED_FUNCTION_CHANGED: 'its old body is also another NEW function (identical code folding: one old address was several functions) that does not change the same way: a redirect at the old body would send that function\'s callers and pointers into the changed code',
  CODE_TABLE_LAYOUT_CHANGED: 'a read-only table of code pointers that objects keep (a vtable, a callback table) changed layout (slot count, or slots that no longer hold the matched functions in order), and it installs the new table or calls through a changed slot: objects built before the patch keep the old table (needs a baseline)',
  CODE_NOT_UNDERSTOOD: 'the analysis could not follow its code (undecodable or overlapping bytes, an instruction past the end of its range, an unrecognised or unbounded jump table)',
  JUMP_TABLE_FIELD: 'its jump table is referenced other than through the idiom the emitter re-creates',
  SHORT_BRANCH_BETWEEN_PARTS: 'a short branch between its parts whose layout cannot be kept',
  SHORT_BRANCH_LEAVES: 'a short branch leaves the function',
  ABSOLUTE32_REFERENCE: 'a 32-bit absolute or image-relative field that cannot be re-targeted',
  IMAGEREL_UNPROVEN_BASE: 'an __ImageBase-relative access whose base register is not proven',
  IMAGEREL_TO_IMPORT: 'an __ImageBase-relative reference to an import',
  UNRESOLVED_REFERENCE: 'a reference the package cannot complete against OLD',
  RELATIVE_TABLE_UNBOUNDED: 'it needs a self-relative table (LLVM relative lookup table) whose entry count no bound check proves, so the table can be neither moved nor checked where it lies',
  RODATA_ADDRESS_ESCAPED: 'it needs a carried copy of a read-only object whose contents changed, and OLD code keeps the OLD object\'s address (stores it to memory, directly or in a function it passes it to or returns it to): pointers taken before the patch keep the old object, so no address serves old and new code (needs a baseline)',
  RODATA_NOT_CARRIED: 'read-only data it needs cannot be carried (a 32-bit absolute address, image-relative RVAs of MSVC throw data, a pointer straddling its end, or a pointer that does not resolve)',
  UNWIND_NOT_CARRIED: 'its unwind data cannot be carried (unreadable, or chained to an entry that is not one of its parts)',
  HANDLER_NOT_CARRIED: 'its exception handler, handler data or GCC LSDA cannot be read or re-targeted',
  // The redirect at the old entry.
  REDIRECT_SITE_TOO_SHORT: 'the old function is too short for a jump, with no padding within reach',
  THREAD_RULE: 'a branch targets, or a call returns into, the bytes the redirect overwrites',
  // Old functions with no counterpart.
  REMOVED_STILL_REACHABLE: 'an old function with no counterpart in NEW stays reachable after the patch (a data pointer, a taken address, or a branch from code left active): it would run old code next to redirected new code (needs a baseline, or a match)',
  // Data and image-level properties.
  WRITABLE_SECTION_ADDED: 'a new writable section: its data cannot be added to a running image',
  WRITABLE_SECTION_REMOVED: 'a writable section was removed',
  WRITABLE_SECTION_RESIZED: 'a writable section changed size: globals were added, removed or resized',
  GLOBAL_LAYOUT_CHANGED: 'a writable global changed layout (size, or the offsets code uses in it)',
  GLOBAL_ACCESSED_PAST_OLD_EXTENT: 'new code accesses a writable global past everything old code touched in it (a struct grown inside its alignment padding)',
  GLOBAL_FIELD_STRADDLES_OLD: 'new code accesses a field of a writable global that straddles an old field at another offset (fields rearranged)',
  GLOBAL_INITIAL_VALUE_CHANGED: 'a writable global changed initial value: the running image keeps its live copy',
  UNOWNED_CODE_CHANGED: 'code no discovered function owns differs from OLD',
  EXPORTS_CHANGED: 'an export was added, removed or now names something else',
  ENTRY_POINT_CHANGED: 'the entry point moved or its function changed (it ran at load time)',
  EXPORTED_DATA_CHANGED: 'read-only exported data changed value: importers read the export directly and would keep the old value',
  TLS_CHANGED: 'the TLS directory, template or callbacks changed',
  INITIALIZER_CHANGED: 'a changed function runs only once (reached only from a static constructor, the entry point, a TLS callback, or the guarded initialisation of a function-local static): it already ran, and the running process keeps the state the old code built (needs a baseline)',
  RODATA_TABLE_REORDERED: 'it reads a read-only table whose entries changed places (reordered, or an entry inserted or removed before others): indexes old code computed and stored before the patch select other entries of the new table (needs a baseline)',
} as const;

/** A stable reason code. */
export type ReasonCode = keyof typeof REASON_CODES;

/** A verdict's reason: its code, the particulars, and the RVA it is about (NEW's, else OLD's). */
export interface Reason {
  readonly code: ReasonCode;
  readonly message: string;
  readonly at: Rva | null;
}

/**
 * A reason about `at`: an RVA of the image it names (NEW's, else OLD's), or null for the whole
 * image. Callers pass the place a refusal is about, already an `Rva` (an entry, a field, or
 * `rvaAdd` of one); a refusal never throws, so nothing here checks or brands a number.
 */
export function reason(code: ReasonCode, message: string, at: Rva | null = null): Reason {
  return { code, message, at };
}
