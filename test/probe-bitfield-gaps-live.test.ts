/**
 * The bit-field readers' residual gap (issue #14), in a real process under Wine: the first
 * hp_run call packs three words with v1's code, every call decodes them.
 * - bitfield-low-swap (test/probes/bitfield-low-swap.c): a and b (bits 0-7), written only by
 *   init's whole-word store, swap; c moves higher, so set_c's read-modify-write is refused and
 *   the layout "may have moved from bit 8 up". get_ab (bits 0-7) and init were hotpatchable,
 *   and --skip-refused carried them: patched live, the process prints neither version's lines.
 *   Now init's packing store, changed at a word set_c changed, is refused
 *   (compiler/diff/bitfield-packed.ts), and get_ab's decode is checked from bit 0: refused too.
 * - bitfield-low-fix (the twin): c moves the same way, a and b stay; init is unchanged and
 *   get_ab only changes its formula: hotpatchable, and the --skip-refused package prints v2.
 * - bitfield-word-move (gcc): c moves from bits 8-18 to 21-31 and gcc's store and load of it
 *   move from a dword at +0 to a word at +2: no displacement both bodies store, so set_c and
 *   get_c were hotpatchable; now the moved store word refuses both (bitfield-layout.ts
 *   movedWords). Its twin bitfield-word-move-fix (get_c's formula only) prints v2 live.
 * - bitfield-swap-whole (clang -O1/-O2): clang's pack is a read-modify-write (`and eax,[rcx]`
 *   keep mask, fields merged by `or` and `add`) whose constants are equal as a set in both
 *   bodies; only which argument lands in bits 0-3 and which in 4-7 changed. Carried, the
 *   patched process misreads the old words. Now refused (bitfield-packed.ts follows each
 *   argument into the read-modify-write). Its twin bitfield-swap-fix (pack changed elsewhere,
 *   unpack's formula) stays hotpatchable and prints v2 live. At gcc/clang -O0 each field is its
 *   own read-modify-write of an argument reloaded from its stack slot: hotpatchable, carried
 *   the patched process misread the words; now the slot names the input (bitfield-packed.ts
 *   loadedSlots), refused; bitfield-swap-fix stays hotpatchable at -O0 and prints v2 live.
 * - bitfield-immediate-reorder (gcc -O1, clang -O1/-O2): init assigns the whole struct from
 *   constants, one `mov dword [rcx],imm` (0x15b -> 0x16b), kind and level swapped: no rule saw
 *   a field, both were hotpatchable, and carried the patched process prints neither line. Now
 *   refused (compiler/diff/bitfield-immediates.ts: the immediate replaced, linked to unpack's
 *   moved bit groups). Its twin bitfield-immediate-fix (init also sets a new flag, unpack's
 *   formula changes over the same bits) stays hotpatchable and prints v2 live.
 *   clang -O0 builds the compound literal in a stack slot (`mov dword [rsp+4],0`, per field
 *   load, `and`, `or`, store back) and copies it (`mov ecx,[rsp+4]; mov [rax],ecx`): no
 *   immediate stored, hotpatchable there (reorder and revalue); carried, neither line. Now the
 *   slot's constant is followed to the copy (bitfield-immediates.ts followFrame), the twins
 *   stay hotpatchable at clang -O0 and print v2 live.
 * - bitfield-immediate-revalue (gcc -O1, clang -O1/-O2): as bitfield-immediate-reorder, and the
 *   move also changes level's value (11 -> 12), so the old immediate read through the old
 *   groups no longer gave the new one's values: hotpatchable, carried the patched process
 *   prints neither line. Now refused (the reader's moved groups are the same widths over the
 *   same bits). Twin bitfield-immediate-revalue-fix (another level, layout kept) hotpatchable.
 * - bitfield-immediate-wide (clang -O0/-O1/-O2/-Os): a 64-bit word stored as `movabs rax,imm64;
 *   mov [rcx],rax`, fields swapped: no `mov [m],imm`, hotpatchable; carried, neither line.
 *   Now the imm64 counts as the stored immediate. Twin bitfield-immediate-wide-fix.
 *   clang -O0 builds it in a qword stack slot (`mov qword [rsp],0`, fields merged by `and
 *   rcx,imm` / `movabs rcx,mask; and rcx,[rsp]; movabs rdx,bits; or rcx,rdx`) and copies it:
 *   followFrame followed 32-bit slots only, so both stayed hotpatchable there; carried, neither
 *   line. Now slots are followed byte by byte through 32- and 64-bit registers.
 * - bitfield-immediate-second (clang -O0/-O1/-O2/-Os): the bit-field word after a 32-bit field,
 *   the struct stored as one qword, unpack loading the word at +4 alone: no displacement in
 *   common, hotpatchable; carried, neither line. Now a qword store also stores its high dword
 *   at +4. Twin bitfield-immediate-second-fix. clang -O0 builds the two dwords in slots at
 *   [rsp] and [rsp+4] and copies them as one qword (`mov rcx,[rsp]; mov [rax],rcx`):
 *   hotpatchable there, carried neither line; now the qword load assembles both slots.
 *   (gcc -O0, fields stored one by one through the pointer, refuses probes and twins alike.)
 * - bitfield-immediate-halves (gcc -O1..-Os, clang -O1..-Os): a 16-bit word set from constants,
 *   stored by gcc -O1 as two byte immediates (gcc -O2 `mov eax,imm; mov [rcx],ax`), the high
 *   byte's two 4-bit fields swapped: the reader decodes the same groups (only the weights
 *   move), and no immediate at +0 changed; hotpatchable, carried the patched process prints
 *   neither line. Now adjacent byte stores count as the word, a multi-byte constant stored from
 *   a register as an immediate, and equal groups whose stored values swapped as moved
 *   (bitfield-immediates.ts). Twin bitfield-immediate-halves-fix (another mode stored).
 * - bitfield-immediate-bytes (gcc -O2/-Os): a field straddling the word's two bytes swaps with
 *   another; gcc -O2 stores `mov eax,0xffffb36b; mov [rcx],ax`, gcc -Os reads the high byte alone
 *   at +1: hotpatchable, carried neither line. Now the reader's groups at +1 count in the word
 *   at +0. Twin bitfield-immediate-bytes-fix (another level stored).
 * - bitfield-rodata (clang -O1/-O2/-Os): a 16-byte struct assigned from constants is copied
 *   from a read-only literal (`movaps xmm0,[rip+X]; movups [rcx],xmm0`), its bit-field word's
 *   fields swapped (0x15b -> 0x16b in the literal): no immediate stored, hotpatchable; carried,
 *   neither line. Now a plain load of read-only, unrelocated image bytes counts as a constant
 *   (compiler/diff/image-constants.ts), a vector register stored whole as the word it holds.
 *   gcc stores the bit-field word by a read-modify-write (-O0/-O2/-Os) or an immediate (-O1):
 *   refused before. Twin bitfield-rodata-fix (a new flag in the literal, unpack's formula)
 *   hotpatchable but at gcc -O2/-Os, where init's qword copy at +4 of the literal's tail
 *   (`mov rax,[rip+X]; mov [rcx+4],rax`, before two dword stores) counts as a field added.
 * - bitfield-memcpy (gcc -O0, clang -O0, gcc -Os): the struct holding the bit-field word is
 *   copied from a named `static const` initialiser by `lea rdx,[rip+X]; mov r8d,0x24; call
 *   memcpy` (-O0) or `rep movsd` from `lea rsi,[rip+X]` (gcc -Os), the word's fields swapped:
 *   no store of a constant seen, init and unpack hotpatchable (gcc -Os: unpack, init refused as
 *   RODATA_ADDRESS_ESCAPED); carried, neither line. Now such a copy of read-only bytes counts
 *   as the constant stored (compiler/diff/image-constants.ts readOnlyCopy). Other builds store
 *   immediates or copy vectors: refused before. Twin bitfield-memcpy-fix (a new flag in the
 *   initialiser, unpack's formula) hotpatchable but at gcc -Os.
 * - bitfield-long-copy (gcc -O0, clang -O0; gcc/clang -Os the reader): bitfield-memcpy with a
 *   96-byte item (`mov r8d,0x60; call memcpy`, `rep movsd` with ecx 0x18): copies over 64 bytes
 *   were not followed, init and unpack hotpatchable; carried, neither line. Now copies up to a
 *   page count (image-constants.ts), each displacement's value cut to 64 bytes. Twin
 *   bitfield-long-copy-fix (a new flag, unpack's formula) hotpatchable but at -Os (init
 *   RODATA_ADDRESS_ESCAPED), prints v2 live.
 * - bitfield-helper-copy (all 8 builds; gcc -O2/-Os the reader, init too short): the initialiser
 *   copied by the DLL's own copy_bytes (a byte loop; gcc -O2 `jmp copy_bytes`): no import, no
 *   copy seen; carried, neither line. Now a call to a function of the image's own given a
 *   read-only constant's address in rdx and a constant count in r8 counts as the copy
 *   (image-constants.ts ownCall). Twin bitfield-helper-copy-fix prints v2 live.
 * - bitfield-helper-offset (all 8 builds; gcc -O2/-Os the reader, init too short): the helper
 *   copy_body skips the initialiser's 4-byte tag, so the bit-field word at +0 comes from its +4;
 *   any call of the image's own given a read-only address in rdx and a count in r8 was taken
 *   for a copy from +0, which put the unchanged tag at +0: no move, hotpatchable; carried,
 *   neither line. Now the callee's body is read (compiler/diff/bitfield-copy-callee.ts): along
 *   each path, loads only through the source, plain stores only through the destination, the
 *   loads' offsets the stores' plus one shift (4 here: the copy is from +4); any other body is
 *   no copy. Twin bitfield-helper-offset-fix (a new flag, unpack's formula) prints v2 live.
 * - bitfield-helper-units (all 8 builds; gcc -O2/-Os the reader, init too short): the helper
 *   copy_qwords counts qwords (`mov r8d,5`), the bit-field word at +0x20 of a 40-byte item: the
 *   count was taken for bytes, the copy seen covered +0..+4, and the relayout hid; carried,
 *   neither line. Now the count's unit is the helper's narrowest load of the source
 *   (bitfield-copy-callee.ts: 8 here, 1 for copy_bytes, whose clang -O2 vector loop keeps a
 *   byte tail). Twin bitfield-helper-units-fix (a new flag, unpack's formula) prints v2 live.
 * - bitfield-relayout-copy (clang -O0/-O1/-O2/-Os): a 16-byte literal of sixteen one-byte bit-field
 *   words, every word's fields swapped: all 16 bytes differ, more than half, so the cut that
 *   keeps swc-html's Rust `type_id` out (bitfield-immediates.ts rewrittenWhole) let init and
 *   unpack through; carried, neither line. Now such a constant is a move when the reader's
 *   groups cover every changed bit of the bytes they span (explained). gcc keeps the literal in
 *   .data (GLOBAL_INITIAL_VALUE_CHANGED). clang -O0 builds it byte by byte in stack slots
 *   through 8-bit registers (`mov cl,[rsp+1]; and cl,0xf8; or cl,5; mov [rsp+1],cl`) and copies
 *   it as two qwords: followFrame followed 32- and 64-bit registers only, hotpatchable there;
 *   carried, neither line. Now byte and word registers are followed too (their upper bytes
 *   unknown), and `movzx` and vector loads of slots. Twin bitfield-relayout-copy-fix (13 bytes
 *   relevelled, the words unpack reads kept) prints v2 live.
 * - bitfield-relayout-partial (clang -O0/-O1/-O2/-Os): bitfield-relayout-copy whose reader decodes
 *   only kinds (bits 0-2 of bytes 0, 5 and 9, now 5-7): the level bits between its groups moved
 *   too, so the reader's groups explain not every changed bit of the bytes they span, and the
 *   cut for a hash rewritten whole let init and unpack through; carried, neither line. Now a
 *   constant rewritten whole whose every aligned qword keeps its count of set bits (bits moved
 *   inside words, values kept) is a move without that cover (bitfield-immediates.ts
 *   rewrittenWhole). Twin bitfield-relayout-partial-fix (every word relevelled, the kinds kept,
 *   unpack's formula) prints v2 live.
 * - bitfield-relayout-revalue (clang -O1/-O2/-Os): bitfield-relayout-partial whose v2 also gives
 *   word 12 another level (9 -> 8): the second qword's count of set bits changes, so neither the
 *   counts kept nor the reader's cover made it a move, and init and unpack were hotpatchable;
 *   carried, not v1's line (v1 and v2 print the same). Now a constant rewritten whole is a move
 *   also when the reader's own groups moved and each keeps its value (bitfield-immediates.ts
 *   movedGroups); the same groups read along other paths still need the counts or the cover.
 *   Twin bitfield-relayout-revalue-fix (every word relevelled, word 12's level 9 -> 8, the layout
 *   kept, unpack's formula) prints v2 live.
 * - bitfield-literal-stack, bitfield-literal-zeros (clang -O0): a 96-byte struct assigned whole from
 *   a compound literal, the bit-field word at +0x40. clang -O0 builds so large a literal in a
 *   stack temporary (its first part memcpy'd from read-only bytes, or memset to zero, the other
 *   members stored) and copies it by `lea rdx,[rsp+0x30]; mov r8d,0x60; call memcpy`: neither
 *   copy was followed, init and unpack hotpatchable; carried, neither line. Now a memset or a
 *   copy of read-only bytes into the frame fills its slots, and a copy from slots all known
 *   counts as the constant stored (image-constants.ts readOnlyCopy, frameFill). Twins
 *   bitfield-literal-stack-fix, -zeros-fix (a new flag, unpack's formula) print v2 live.
 * - bitfield-fill (gcc -O2, clang -O2): a field set to all ones by a lone `or byte [rcx],0x7`
 *   (several bits: neither a bit-field store nor a one-bit flag), fields swapped; hotpatchable,
 *   carried the patched process misreads it. Now refused (compiler/diff/bitfield-fills.ts).
 *   gcc -O0 fills through a register (`movzx edx,byte [rax]; or edx,0x7; mov [rax],dl`): it
 *   stayed hotpatchable there; now a load, one `or`/`and` immediate and a store back into the
 *   loaded word count as a fill too.
 *   Twin bitfield-fill-fix (the same fill, other changes) hotpatchable.
 * - bitfield-rotate (gcc -O2, clang -O1/-O2): three 4-bit fields rotate inside one
 *   read-modify-write, equal constant sets in both bodies (not a swap of two): hotpatchable
 *   before (gcc -O2's load went through a copied base, `mov rax,rcx`, so the store looked whole
 *   on one side only; clang's reader decodes `on` along another weight's bits); carried, the
 *   patched process prints neither line. Now refused (bitfield-packed.ts compares a
 *   read-modify-write with a whole store; bitfield-packed-moves.ts compares only the reader's
 *   groups over the moved bits). gcc/clang -O0 (fields stored one by one, arguments
 *   reloaded from stack slots) were hotpatchable, carried neither line; now refused as
 *   bitfield-swap-whole at -O0. Twin: bitfield-swap-fix above.
 * - bitfield-signed (all 8 builds): bitfield-reorder with signed fields, unpack reading only
 *   level. A signed field is read by sign extension: `shl eax,27; sar eax,27` (clang),
 *   `movzx eax,byte [rcx]; shl eax,3; sar al,3; movsx` (gcc), `movsx eax,byte [rcx]; sar eax,5`.
 *   The reader's bits ignored what a left shift pushes past the register's top and what a
 *   shift of a byte register leaves out, so the sign-extended read decoded no bit and unpack
 *   was hotpatchable (gcc at all four levels, clang -O0; gcc -O1's whole-byte pack too);
 *   carried (pack runs in its own unchanged make_items, so --skip-refused carries unpack
 *   alone), the patched process prints neither version. Now refused (bitfield-bits.ts: a
 *   shift keeps only its register's bits). Twin bitfield-signed-fix (one layout, unpack's
 *   formula only) stays hotpatchable at all 8 builds and prints v2 live.
 * - bitfield-reorder-fix (gcc -O2, clang -O1/-O2): refused before (the constant-set rule: only
 *   an input's mask narrowed, `and r8d,0x1f` -> `0xf`); now hotpatchable
 *   (compiler/diff/bitfield-narrowed.ts: bodies byte-equal but for narrowed low masks of
 *   registers holding no loaded value), and patched live it prints v2.
 */
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { Toolchain } from '../samples/scenarios.ts';
import { buildLayoutProbe, carriedNeither as carriedLayoutNeither, changedVerdicts, diffDlls, liftRule, startLayoutProbe, writeProbePackage } from './support/layout-probes.ts';
import { liveSuite, patchedRound } from './support/live-suite.ts';
import { missingTools } from './support/tools.ts';

const skip = missingTools(['wine', 'mingw', 'clang']);
const suite = liveSuite('hp-probe-bitfield-gaps-', skip);
const TOOLCHAINS: readonly Toolchain[] = ['gcc', 'clang'];
const CODE = 'STRUCTURE_BITFIELD_CHANGED';

const startProbe = (name: string, tc: Toolchain, opt?: string) => startLayoutProbe(suite, name, tc, opt);

/** Probe `name`: init and unpack refused, init's message matching `message`; carried anyway, the patched process prints neither version's line. */
const carriedNeither = (name: string, tc: Toolchain, opt: string, message: RegExp): Promise<void> => carriedLayoutNeither(suite, name, tc, opt, CODE, message);

describe.skipIf(skip !== undefined)(`bit-field gap probes live under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  test.each(TOOLCHAINS)('bitfield-low-swap (%s): the whole-word writer and the low readers refused; carried anyway, the patched process prints neither version', async (tc) => {
    const { h, old, neu, d } = await startProbe('bitfield-low-swap', tc);
    // Only the layout changed: both versions print the same lines.
    expect(neu).toBe(old);
    expect(changedVerdicts(d)).toEqual([`get_ab: ${CODE}`, `get_c: ${CODE}`, `init: ${CODE}`, `set_c: ${CODE}`]);
    expect(d.functions.find((f) => f.name === 'init')?.reason?.message).toMatch(/^it packs the word at \+0x0 whole \(a store that does not read it\) with other mask or shift constants than its old body, and set_c now packs/);
    expect(d.functions.find((f) => f.name === 'get_ab')?.reason?.message).toMatch(/^it decodes bits 0 and up of the word at \+0x0/);
    // What --skip-refused carried before: init and get_ab, set_c and get_c left old.
    const before = liftRule(d, CODE, ['init', 'get_ab']);
    expect(changedVerdicts(before)).toEqual(['get_ab: hotpatchable', `get_c: ${CODE}`, 'init: hotpatchable', `set_c: ${CODE}`]);
    const pkg = await writeProbePackage(suite.dir(), before, 'bitfield-low-swap.dll', `bitfield-low-swap-${tc}.hpk`, true);
    expect(await patchedRound(h, pkg, 'bitfield-low-swap.dll')).not.toBe(old);
  }, 120_000);

  test.each(TOOLCHAINS)('bitfield-low-fix (%s): the low reader stays hotpatchable, and the --skip-refused package prints v2', async (tc) => {
    const { h, old, neu, d } = await startProbe('bitfield-low-fix', tc);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual(['get_ab: hotpatchable', `get_c: ${CODE}`, `set_c: ${CODE}`]);
    const pkg = await writeProbePackage(suite.dir(), d, 'bitfield-low-fix.dll', `bitfield-low-fix-${tc}.hpk`, true);
    expect(await patchedRound(h, pkg, 'bitfield-low-fix.dll')).toBe(neu);
  }, 120_000);

  test('bitfield-word-move (gcc): the store word moved; refused; carried anyway, the patched process misreads c', async () => {
    const { h, old, neu, d } = await startProbe('bitfield-word-move', 'gcc');
    expect(neu).toBe(old);
    expect(changedVerdicts(d)).toEqual([`get_c: ${CODE}`, `set_c: ${CODE}`]);
    expect(d.functions.find((f) => f.name === 'set_c')?.reason?.message).toContain('(old only: word +0x0; new only: word +0x2; needs a baseline)');
    const before = liftRule(d, CODE);
    expect(before.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writeProbePackage(suite.dir(), before, 'bitfield-word-move.dll', 'bitfield-word-move-gcc.hpk');
    expect(await patchedRound(h, pkg, 'bitfield-word-move.dll')).not.toBe(old);
  }, 120_000);

  test('bitfield-word-move-fix (gcc): hotpatchable, and patched live it prints v2', async () => {
    const { h, old, neu, d } = await startProbe('bitfield-word-move-fix', 'gcc');
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual(['get_c: hotpatchable']);
    const pkg = await writeProbePackage(suite.dir(), d, 'bitfield-word-move-fix.dll', 'bitfield-word-move-fix-gcc.hpk');
    expect(await patchedRound(h, pkg, 'bitfield-word-move-fix.dll')).toBe(neu);
  }, 120_000);

  test('bitfield-reorder (gcc -O1): the whole-byte packer and its reader refused; carried anyway, the patched process prints neither version', async () => {
    const { h, old, neu, d } = await startProbe('bitfield-reorder', 'gcc', '-O1');
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual([`pack: ${CODE}`, `unpack: ${CODE}`]);
    expect(d.functions.find((f) => f.name === 'pack')?.reason?.message).toBe(
      'it packs the word at +0x0 whole (a store that does not read it) with its fields at other bits than its old body (old only: bits 0-2; bits 3-7; new only: bits 5-7; bits 0-4), and unpack now decodes bits 5-7 where its old body decoded bits 0-2: words packed before the patch keep the old bit order',
    );
    expect(d.functions.find((f) => f.name === 'unpack')?.reason?.message).toMatch(/^it decodes the word at \+0x0 at bits 5-7 where its old body decoded bits 0-2, and pack now packs that word whole/);
    const before = liftRule(d, CODE);
    expect(before.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writeProbePackage(suite.dir(), before, 'bitfield-reorder.dll', 'bitfield-reorder-gcc-O1.hpk');
    const after = await patchedRound(h, pkg, 'bitfield-reorder.dll');
    expect(after).not.toBe(old);
    expect(after).not.toBe(neu);
  }, 120_000);

  // gcc -O2 and clang read-modify-write the word; only the input's mask narrows (`and r8d,0x1f`
  // -> `and r8d,0xf`): refused by the constant-set rule before bitfield-narrowed.ts.
  test.each([['gcc', '-O1'], ['gcc', '-O2'], ['clang', '-O1'], ['clang', '-O2']] as const)('bitfield-reorder-fix (%s %s): the packer narrows a field, the reader decodes the same bits: hotpatchable, and patched live it prints v2', async (tc, opt) => {
    const { h, old, neu, d } = await startProbe('bitfield-reorder-fix', tc, opt);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual(['pack: hotpatchable', 'unpack: hotpatchable']);
    const pkg = await writeProbePackage(suite.dir(), d, 'bitfield-reorder-fix.dll', `bitfield-reorder-fix-${tc}${opt}.hpk`);
    expect(await patchedRound(h, pkg, 'bitfield-reorder-fix.dll')).toBe(neu);
  }, 120_000);

  test('bitfield-swap-whole (gcc -O1): two equal fields swapped in a byte packed whole; refused; carried anyway, the patched process misreads them', async () => {
    const { h, old, neu, d } = await startProbe('bitfield-swap-whole', 'gcc', '-O1');
    // Only the layout changed: both versions print the same lines.
    expect(neu).toBe(old);
    expect(changedVerdicts(d)).toEqual([`pack: ${CODE}`, `unpack: ${CODE}`]);
    expect(d.functions.find((f) => f.name === 'unpack')?.reason?.message).toMatch(/^it decodes the word at \+0x0 at bits 0-7 along other mask, shift or weight paths than its old body, and pack now packs that word whole .*inputs moved over bits 0-7/);
    const before = liftRule(d, CODE);
    expect(before.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writeProbePackage(suite.dir(), before, 'bitfield-swap-whole.dll', 'bitfield-swap-whole-gcc-O1.hpk');
    expect(await patchedRound(h, pkg, 'bitfield-swap-whole.dll')).not.toBe(old);
  }, 120_000);
  test.each([['clang', '-O1'], ['clang', '-O2'], ['gcc', '-O0'], ['clang', '-O0']] as const)('bitfield-swap-whole (%s %s): the read-modify-write packer whose arguments swapped fields, and its reader, refused; carried anyway, the patched process misreads them', async (tc, opt) => {
    const { h, old, neu, d } = await startProbe('bitfield-swap-whole', tc, opt);
    expect(neu).toBe(old);
    expect(changedVerdicts(d)).toEqual([`pack: ${CODE}`, `unpack: ${CODE}`]);
    expect(d.functions.find((f) => f.name === 'pack')?.reason?.message).toBe(
      'it merges fields into the word at +0x0 (a read-modify-write) with its fields at other bits than its old body (inputs moved over bits 0-7), and unpack now decodes bits 0-7 along other mask, shift or weight paths than its old body: words packed before the patch keep the old bit order',
    );
    expect(d.functions.find((f) => f.name === 'unpack')?.reason?.message).toMatch(/^it decodes the word at \+0x0 at bits 0-7 along other mask, shift or weight paths than its old body, and pack now merges fields into that word .*inputs moved over bits 0-7/);
    const before = liftRule(d, CODE);
    expect(before.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writeProbePackage(suite.dir(), before, 'bitfield-swap-whole.dll', `bitfield-swap-whole-${tc}${opt}.hpk`);
    expect(await patchedRound(h, pkg, 'bitfield-swap-whole.dll')).not.toBe(old);
  }, 120_000);

  test.each([['gcc', '-O1'], ['clang', '-O1'], ['clang', '-O2'], ['gcc', '-O0'], ['clang', '-O0']] as const)('bitfield-swap-fix (%s %s): each argument lands where it did, the reader changes its formula: hotpatchable, and patched live it prints v2', async (tc, opt) => {
    const { h, old, neu, d } = await startProbe('bitfield-swap-fix', tc, opt);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual(['pack: hotpatchable', 'unpack: hotpatchable']);
    const pkg = await writeProbePackage(suite.dir(), d, 'bitfield-swap-fix.dll', `bitfield-swap-fix-${tc}${opt}.hpk`);
    expect(await patchedRound(h, pkg, 'bitfield-swap-fix.dll')).toBe(neu);
  }, 120_000);

  const IMMEDIATE: ReadonlyArray<readonly [Toolchain, string]> = [['gcc', '-O1'], ['clang', '-O0'], ['clang', '-O1'], ['clang', '-O2']];

  test.each(IMMEDIATE)('bitfield-immediate-reorder (%s %s): the word stored as one immediate, its fields swapped; writer and reader refused; carried anyway, the patched process prints neither version', async (tc, opt) => {
    const { h, old, neu, d } = await startProbe('bitfield-immediate-reorder', tc, opt);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual([`init: ${CODE}`, `unpack: ${CODE}`]);
    expect(d.functions.find((f) => f.name === 'init')?.reason?.message).toMatch(/^it stores the word at \+0x0 (as one immediate|from a constant built in a stack slot) with other bits than its old body \(old 0x1?5b; new 0x1?6b\), and unpack now decodes bits 5-7; bits 0-4 where its old body decoded bits 0-2; bits 3-7/);
    expect(d.functions.find((f) => f.name === 'init')?.reason?.message).toContain(opt === '-O0' ? 'from a constant built in a stack slot' : 'as one immediate');
    const before = liftRule(d, CODE);
    expect(before.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writeProbePackage(suite.dir(), before, 'bitfield-immediate-reorder.dll', `bitfield-immediate-reorder-${tc}${opt}.hpk`);
    const after = await patchedRound(h, pkg, 'bitfield-immediate-reorder.dll');
    expect(after).not.toBe(neu);
    expect(after).not.toBe(old);
  }, 120_000);

  test.each(IMMEDIATE)('bitfield-immediate-fix (%s %s): the immediate sets a new flag, the reader decodes the same bits: hotpatchable, and patched live it prints v2', async (tc, opt) => {
    const { h, old, neu, d } = await startProbe('bitfield-immediate-fix', tc, opt);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual(['init: hotpatchable', 'unpack: hotpatchable']);
    const pkg = await writeProbePackage(suite.dir(), d, 'bitfield-immediate-fix.dll', `bitfield-immediate-fix-${tc}${opt}.hpk`);
    expect(await patchedRound(h, pkg, 'bitfield-immediate-fix.dll')).toBe(neu);
  }, 120_000);

  test.each(IMMEDIATE)('bitfield-immediate-revalue (%s %s): the fields swapped AND a value changed in the one immediate; writer and reader refused; carried anyway, the patched process prints neither version', async (tc, opt) => {
    const { h, old, neu, d } = await startProbe('bitfield-immediate-revalue', tc, opt);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual([`init: ${CODE}`, `unpack: ${CODE}`]);
    expect(d.functions.find((f) => f.name === 'init')?.reason?.message).toMatch(/^it stores the word at \+0x0 (as one immediate|from a constant built in a stack slot) with other bits than its old body \(old 0x1?5b; new 0x1?6c\), and unpack now decodes bits 5-7; bits 0-4 where its old body decoded bits 0-2; bits 3-7/);
    expect(d.functions.find((f) => f.name === 'init')?.reason?.message).toContain(opt === '-O0' ? 'from a constant built in a stack slot' : 'as one immediate');
    const before = liftRule(d, CODE);
    expect(before.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writeProbePackage(suite.dir(), before, 'bitfield-immediate-revalue.dll', `bitfield-immediate-revalue-${tc}${opt}.hpk`);
    const after = await patchedRound(h, pkg, 'bitfield-immediate-revalue.dll');
    expect(after).not.toBe(neu);
    expect(after).not.toBe(old);
  }, 120_000);

  test.each([...IMMEDIATE, ['clang', '-Os']] as const)('bitfield-immediate-revalue-fix (%s %s): the immediate stores another level, the layout stays: hotpatchable, and patched live the new unpack reads the old level', async (tc, opt) => {
    const { h, old, neu, d } = await startProbe('bitfield-immediate-revalue-fix', tc, opt);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual(['init: hotpatchable', 'unpack: hotpatchable']);
    const pkg = await writeProbePackage(suite.dir(), d, 'bitfield-immediate-revalue-fix.dll', `bitfield-immediate-revalue-fix-${tc}${opt}.hpk`);
    // init ran once before the patch: the word holds level 11, read by v2's formula (11 * 3).
    expect(await patchedRound(h, pkg, 'bitfield-immediate-revalue-fix.dll')).toBe('unpack() = 334\n');
  }, 120_000);

  const WIDE: ReadonlyArray<readonly [Toolchain, string]> = [['clang', '-O0'], ['clang', '-O1'], ['clang', '-O2'], ['clang', '-Os']];

  test.each(WIDE)('bitfield-immediate-wide (%s %s): a 64-bit word stored from a register loaded with one imm64, its fields swapped; writer and reader refused; carried anyway, the patched process prints neither version', async (tc, opt) => {
    const { h, old, neu, d } = await startProbe('bitfield-immediate-wide', tc, opt);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual([`init: ${CODE}`, `unpack: ${CODE}`]);
    // clang -O0 builds the qword in a stack slot and copies it; -O1 and up load it into a register with movabs.
    const how = opt === '-O0' ? 'from a constant built in a stack slot' : 'from a register loaded with one constant';
    expect(d.functions.find((f) => f.name === 'init')?.reason?.message).toMatch(new RegExp(`^it stores the word at \\+0x0 ${how} with other bits than its old body \\(old 0x1123456789a5b; new 0x1123456789a6b\\), and unpack now decodes bits 5-7; bits 0-4 where its old body decoded bits 0-2; bits 3-7`));
    const before = liftRule(d, CODE);
    expect(before.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writeProbePackage(suite.dir(), before, 'bitfield-immediate-wide.dll', `bitfield-immediate-wide-${tc}${opt}.hpk`);
    const after = await patchedRound(h, pkg, 'bitfield-immediate-wide.dll');
    expect(after).not.toBe(neu);
    expect(after).not.toBe(old);
  }, 120_000);

  test.each(WIDE)('bitfield-immediate-wide-fix (%s %s): the imm64 stores another tag, the layout stays: hotpatchable, and patched live the new unpack reads the old tag', async (tc, opt) => {
    const { h, old, neu, d } = await startProbe('bitfield-immediate-wide-fix', tc, opt);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual(['init: hotpatchable', 'unpack: hotpatchable']);
    const pkg = await writeProbePackage(suite.dir(), d, 'bitfield-immediate-wide-fix.dll', `bitfield-immediate-wide-fix-${tc}${opt}.hpk`);
    // init ran once before the patch: tag's low byte 0x9a, read by v2's formula (3*100 + 11*3 + 1 + 154).
    expect(await patchedRound(h, pkg, 'bitfield-immediate-wide-fix.dll')).toBe('unpack() = 488\n');
  }, 120_000);

  test.each(WIDE)('bitfield-immediate-second (%s %s): the bit-field word after a 32-bit field, stored in one qword, read alone at +4, its fields swapped; refused; carried anyway, the patched process prints neither version', async (tc, opt) => {
    const { h, old, neu, d } = await startProbe('bitfield-immediate-second', tc, opt);
    expect(changedVerdicts(d)).toEqual([`init: ${CODE}`, `unpack: ${CODE}`]);
    expect(d.functions.find((f) => f.name === 'init')?.reason?.message).toMatch(/^it stores the word at \+0x4 as the upper bytes of a wider constant with other bits than its old body \(old 0x15b; new 0x16b\)/);
    const before = liftRule(d, CODE);
    expect(before.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writeProbePackage(suite.dir(), before, 'bitfield-immediate-second.dll', `bitfield-immediate-second-${tc}${opt}.hpk`);
    const after = await patchedRound(h, pkg, 'bitfield-immediate-second.dll');
    expect(after).not.toBe(neu);
    expect(after).not.toBe(old);
  }, 120_000);

  test.each(WIDE)('bitfield-immediate-second-fix (%s %s): another level in the qword, the layout stays: hotpatchable, and patched live the new unpack reads the old level', async (tc, opt) => {
    const { h, old, neu, d } = await startProbe('bitfield-immediate-second-fix', tc, opt);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual(['init: hotpatchable', 'unpack: hotpatchable']);
    const pkg = await writeProbePackage(suite.dir(), d, 'bitfield-immediate-second-fix.dll', `bitfield-immediate-second-fix-${tc}${opt}.hpk`);
    // init ran once before the patch: level 11, read by v2's formula (3*100 + 11*3 + 1).
    expect(await patchedRound(h, pkg, 'bitfield-immediate-second-fix.dll')).toBe('unpack() = 334\n');
  }, 120_000);

  const BUILDS: ReadonlyArray<readonly [Toolchain, string]> = TOOLCHAINS.flatMap((tc) => ['-O0', '-O1', '-O2', '-Os'].map((opt) => [tc, opt] as const));

  const RODATA: ReadonlyArray<readonly [Toolchain, string]> = [['clang', '-O1'], ['clang', '-O2'], ['clang', '-Os']];

  test.each(RODATA)('bitfield-rodata (%s %s): the word copied from a read-only literal, its fields swapped; writer and reader refused; carried anyway, the patched process prints neither version', async (tc, opt) => {
    const { h, old, neu, d } = await startProbe('bitfield-rodata', tc, opt);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual([`init: ${CODE}`, `unpack: ${CODE}`]);
    expect(d.functions.find((f) => f.name === 'init')?.reason?.message).toMatch(/^it stores the word at \+0x0 copied from a read-only constant with other bits than its old body \(old 0x1b7300001b6500001b590000015b; new 0x1b7300001b6500001b590000016b\), and unpack now decodes bits 5-7; bits 0-4 where its old body decoded bits 0-2; bits 3-7/);
    const before = liftRule(d, CODE);
    expect(before.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writeProbePackage(suite.dir(), before, 'bitfield-rodata.dll', `bitfield-rodata-${tc}${opt}.hpk`);
    const after = await patchedRound(h, pkg, 'bitfield-rodata.dll');
    expect(after).not.toBe(neu);
    expect(after).not.toBe(old);
  }, 120_000);

  test.each(RODATA)('bitfield-rodata-fix (%s %s): the literal sets a new flag, the layout stays: hotpatchable, and patched live it prints v2', async (tc, opt) => {
    const { h, old, neu, d } = await startProbe('bitfield-rodata-fix', tc, opt);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual(['init: hotpatchable', 'unpack: hotpatchable']);
    const pkg = await writeProbePackage(suite.dir(), d, 'bitfield-rodata-fix.dll', `bitfield-rodata-fix-${tc}${opt}.hpk`);
    expect(await patchedRound(h, pkg, 'bitfield-rodata-fix.dll')).toBe(neu);
  }, 120_000);

  // Before: init and unpack hotpatchable at clang -O1/-O2/-Os (the literal copied from .rdata).
  test.each(BUILDS)('bitfield-rodata and its fix (%s %s): the word copied from a read-only literal refused with its reader; the twin hotpatchable but where a qword copy counts as a field added', (tc, opt) => {
    const dir = join(suite.dir(), 'verdicts', opt);
    const d = diffDlls(buildLayoutProbe(dir, 'bitfield-rodata', 1, tc, opt), buildLayoutProbe(dir, 'bitfield-rodata', 2, tc, opt));
    expect(changedVerdicts(d)).toEqual([`init: ${CODE}`, `unpack: ${CODE}`]);
    const fix = diffDlls(buildLayoutProbe(dir, 'bitfield-rodata-fix', 1, tc, opt), buildLayoutProbe(dir, 'bitfield-rodata-fix', 2, tc, opt));
    const added = tc === 'gcc' && (opt === '-O2' || opt === '-Os');
    expect(changedVerdicts(fix)).toEqual([added ? 'init: STRUCTURE_FIELD_ADDED' : 'init: hotpatchable', 'unpack: hotpatchable']);
  }, 60_000);

  const MEMCPY: ReadonlyArray<readonly [Toolchain, string]> = [['gcc', '-O0'], ['clang', '-O0']];

  test.each(MEMCPY)('bitfield-memcpy (%s %s): the word copied from a named static const by a call to memcpy, its fields swapped; writer and reader refused; carried anyway, the patched process prints neither version', async (tc, opt) => {
    const { h, old, neu, d } = await startProbe('bitfield-memcpy', tc, opt);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual([`init: ${CODE}`, `unpack: ${CODE}`]);
    expect(d.functions.find((f) => f.name === 'init')?.reason?.message).toMatch(/^it stores the word at \+0x0 copied from a read-only constant with other bits than its old body \(old 0x1ba7[0-9a-f]*015b; new 0x1ba7[0-9a-f]*016b\)/);
    const before = liftRule(d, CODE);
    expect(before.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writeProbePackage(suite.dir(), before, 'bitfield-memcpy.dll', `bitfield-memcpy-${tc}${opt}.hpk`);
    const after = await patchedRound(h, pkg, 'bitfield-memcpy.dll');
    expect(after).not.toBe(neu);
    expect(after).not.toBe(old);
  }, 120_000);

  test.each(MEMCPY)('bitfield-memcpy-fix (%s %s): the initialiser sets a new flag, the layout stays: hotpatchable, and patched live it prints v2', async (tc, opt) => {
    const { h, old, neu, d } = await startProbe('bitfield-memcpy-fix', tc, opt);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual(['init: hotpatchable', 'unpack: hotpatchable']);
    const pkg = await writeProbePackage(suite.dir(), d, 'bitfield-memcpy-fix.dll', `bitfield-memcpy-fix-${tc}${opt}.hpk`);
    expect(await patchedRound(h, pkg, 'bitfield-memcpy-fix.dll')).toBe(neu);
  }, 120_000);

  // Before: init and unpack hotpatchable at gcc -O0 and clang -O0 (a memcpy call), unpack at gcc -Os (`rep movsd`; init refused as RODATA_ADDRESS_ESCAPED there).
  test.each(BUILDS)('bitfield-memcpy and its fix (%s %s): the word copied from a named static const refused with its reader; the twin hotpatchable but where the changed constant\'s address escapes', (tc, opt) => {
    const dir = join(suite.dir(), 'verdicts', opt);
    const d = diffDlls(buildLayoutProbe(dir, 'bitfield-memcpy', 1, tc, opt), buildLayoutProbe(dir, 'bitfield-memcpy', 2, tc, opt));
    expect(changedVerdicts(d)).toEqual([`init: ${CODE}`, `unpack: ${CODE}`]);
    const fix = diffDlls(buildLayoutProbe(dir, 'bitfield-memcpy-fix', 1, tc, opt), buildLayoutProbe(dir, 'bitfield-memcpy-fix', 2, tc, opt));
    const escaped = tc === 'gcc' && opt === '-Os';
    expect(changedVerdicts(fix)).toEqual([escaped ? 'init: RODATA_ADDRESS_ESCAPED' : 'init: hotpatchable', 'unpack: hotpatchable']);
  }, 60_000);

  // -O0 calls memcpy with 0x60 bytes (at -Os, `rep movsd`, init was refused as RODATA_ADDRESS_ESCAPED before).
  const LONG: ReadonlyArray<readonly [Toolchain, string]> = [['gcc', '-O0'], ['clang', '-O0']];

  test.each(LONG)('bitfield-long-copy (%s %s): the word copied from a 96-byte static const, its fields swapped; writer and reader refused; carried anyway, the patched process prints neither version', async (tc, opt) => {
    const { h, old, neu, d } = await startProbe('bitfield-long-copy', tc, opt);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual([`init: ${CODE}`, `unpack: ${CODE}`]);
    expect(d.functions.find((f) => f.name === 'init')?.reason?.message).toMatch(/^it stores the word at \+0x0 copied from a read-only constant with other bits than its old body \(old 0x[0-9a-f]*015b; new 0x[0-9a-f]*016b\)/);
    const before = liftRule(d, CODE);
    expect(before.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writeProbePackage(suite.dir(), before, 'bitfield-long-copy.dll', `bitfield-long-copy-${tc}${opt}.hpk`);
    const after = await patchedRound(h, pkg, 'bitfield-long-copy.dll');
    expect(after).not.toBe(neu);
    expect(after).not.toBe(old);
  }, 120_000);

  test.each(LONG)('bitfield-long-copy-fix (%s %s): the 96-byte initialiser sets a new flag, the layout stays: hotpatchable, and patched live it prints v2', async (tc, opt) => {
    const { h, old, neu, d } = await startProbe('bitfield-long-copy-fix', tc, opt);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual(['init: hotpatchable', 'unpack: hotpatchable']);
    const pkg = await writeProbePackage(suite.dir(), d, 'bitfield-long-copy-fix.dll', `bitfield-long-copy-fix-${tc}${opt}.hpk`);
    expect(await patchedRound(h, pkg, 'bitfield-long-copy-fix.dll')).toBe(neu);
  }, 120_000);

  // Before: init and unpack hotpatchable at gcc -O0 and clang -O0 (copies over 64 bytes were not followed), unpack at -Os (init RODATA_ADDRESS_ESCAPED).
  test.each(BUILDS)('bitfield-long-copy and its fix (%s %s): the word copied from a 96-byte static const refused with its reader; the twin hotpatchable but where the changed constant\'s address escapes', (tc, opt) => {
    const dir = join(suite.dir(), 'verdicts', opt);
    const d = diffDlls(buildLayoutProbe(dir, 'bitfield-long-copy', 1, tc, opt), buildLayoutProbe(dir, 'bitfield-long-copy', 2, tc, opt));
    expect(changedVerdicts(d)).toEqual([`init: ${CODE}`, `unpack: ${CODE}`]);
    const fix = diffDlls(buildLayoutProbe(dir, 'bitfield-long-copy-fix', 1, tc, opt), buildLayoutProbe(dir, 'bitfield-long-copy-fix', 2, tc, opt));
    expect(changedVerdicts(fix)).toEqual([opt === '-Os' ? 'init: RODATA_ADDRESS_ESCAPED' : 'init: hotpatchable', 'unpack: hotpatchable']);
  }, 60_000);

  const RELAYOUT: ReadonlyArray<readonly [Toolchain, string]> = [['clang', '-O0'], ['clang', '-O1'], ['clang', '-O2'], ['clang', '-Os']];

  test.each(RELAYOUT)('bitfield-relayout-copy (%s %s): a 16-byte literal of bit-field words, every byte relaid; writer and reader refused; carried anyway, the patched process prints neither version', async (tc, opt) => {
    const { h, old, neu, d } = await startProbe('bitfield-relayout-copy', tc, opt);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual([`init: ${CODE}`, `unpack: ${CODE}`]);
    expect(d.functions.find((f) => f.name === 'unpack')?.reason?.message).toMatch(/^it decodes the word at \+0x[0-9a-f]+ at bits .* where its old body decoded bits /);
    const before = liftRule(d, CODE);
    expect(before.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writeProbePackage(suite.dir(), before, 'bitfield-relayout-copy.dll', `bitfield-relayout-copy-${tc}${opt}.hpk`);
    const after = await patchedRound(h, pkg, 'bitfield-relayout-copy.dll');
    expect(after).not.toBe(neu);
    expect(after).not.toBe(old);
  }, 120_000);

  // The twins: the words unpack decodes keep their kind and level (bitfield-relayout-copy-fix: 13 other words relevelled;
  // bitfield-relayout-partial-fix: every word relevelled, the kinds kept; bitfield-relayout-revalue-fix: as -partial-fix, word
  // 12's level also 9 -> 8, as in its probe), unpack's formula changes over the same bits.
  test.each(RELAYOUT.flatMap(([tc, opt]) => ['bitfield-relayout-copy-fix', 'bitfield-relayout-partial-fix', 'bitfield-relayout-revalue-fix'].map((name) => [name, tc, opt] as const)))('%s (%s %s): the words unpack decodes keep their values, the layout stays: hotpatchable, and patched live it prints v2', async (name, tc, opt) => {
    const { h, old, neu, d } = await startProbe(name, tc, opt);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual(['init: hotpatchable', 'unpack: hotpatchable']);
    const pkg = await writeProbePackage(suite.dir(), d, `${name}.dll`, `${name}-${tc}${opt}.hpk`);
    expect(await patchedRound(h, pkg, `${name}.dll`)).toBe(neu);
  }, 120_000);

  // bitfield-relayout-revalue: as -partial, word 12's level also 9 -> 8 (a qword's count of set bits changes).
  test.each(RELAYOUT.flatMap(([tc, opt]) => ['bitfield-relayout-partial', 'bitfield-relayout-revalue'].map((name) => [name, tc, opt] as const)))('%s (%s %s): a 16-byte literal relaid whole, its reader decoding kinds only; writer and reader refused; carried anyway, the patched process prints neither version', async (name, tc, opt) => {
    const { h, old, neu, d } = await startProbe(name, tc, opt);
    // Only the layout changed: both versions print the same line.
    expect(neu).toBe(old);
    expect(changedVerdicts(d)).toEqual([`init: ${CODE}`, `unpack: ${CODE}`]);
    expect(d.functions.find((f) => f.name === 'unpack')?.reason?.message).toMatch(/^it decodes the word at \+0x[0-9a-f]+ at bits 5-7.* where its old body decoded bits 0-2/);
    const before = liftRule(d, CODE);
    expect(before.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writeProbePackage(suite.dir(), before, `${name}.dll`, `${name}-${tc}${opt}.hpk`);
    expect(await patchedRound(h, pkg, `${name}.dll`)).not.toBe(old);
  }, 120_000);

  // Before, bitfield-relayout-copy: init and unpack hotpatchable at clang -O1/-O2/-Os (more than half of the 16-byte constant's
  // bytes changed: rewrittenWhole exempted it), and at clang -O0, which builds the literal byte by byte in stack slots through
  // 8-bit registers (`mov byte [rsp+1],0; mov cl,[rsp+1]; and cl,0xf8; or cl,5; mov [rsp+1],cl`, then `mov rcx,[rsp]; mov
  // [rax],rcx`) that followFrame did not follow. bitfield-relayout-partial: hotpatchable at all four clang builds (the reader's
  // groups, kinds in bits 0-2 of three bytes, now 5-7, leave the level bits between them, which moved too, unexplained; clang
  // -O0's byte slots not followed). bitfield-relayout-revalue: hotpatchable at clang -O1/-O2/-Os (word 12's level 9 -> 8 changes
  // the second qword's count of set bits, and the moved level bits are unexplained; at -O0 each qword is stored alone, not
  // rewritten whole). gcc keeps the literal in .data (its change refused as GLOBAL_INITIAL_VALUE_CHANGED, init unchanged).
  test.each(BUILDS.flatMap(([tc, opt]) => ['bitfield-relayout-copy', 'bitfield-relayout-partial', 'bitfield-relayout-revalue'].map((name) => [name, tc, opt] as const)))('%s and its fix (%s %s): a 16-byte literal relaid whole refused with its reader where clang stores it; the twin hotpatchable', (name, tc, opt) => {
    const dir = join(suite.dir(), 'verdicts', opt);
    const d = diffDlls(buildLayoutProbe(dir, name, 1, tc, opt), buildLayoutProbe(dir, name, 2, tc, opt));
    const fix = diffDlls(buildLayoutProbe(dir, `${name}-fix`, 1, tc, opt), buildLayoutProbe(dir, `${name}-fix`, 2, tc, opt));
    if (tc === 'gcc') {
      for (const x of [d, fix]) {
        expect(changedVerdicts(x)).toEqual(['unpack: hotpatchable']);
        expect([...new Set(x.data.map((e) => e.reason.code))]).toEqual(['GLOBAL_INITIAL_VALUE_CHANGED']);
      }
      return;
    }
    expect(changedVerdicts(d)).toEqual([`init: ${CODE}`, `unpack: ${CODE}`]);
    expect(changedVerdicts(fix)).toEqual(['init: hotpatchable', 'unpack: hotpatchable']);
  }, 60_000);

  const HELPER: ReadonlyArray<readonly [Toolchain, string]> = [['gcc', '-O1'], ['clang', '-O2']];

  test.each(HELPER)('bitfield-helper-copy (%s %s): the word copied from a named static const by the DLL\'s own copy_bytes, its fields swapped; writer and reader refused; carried anyway, the patched process prints neither version', (tc, opt) =>
    carriedNeither('bitfield-helper-copy', tc, opt, /^it stores the word at \+0x0 copied from a read-only constant with other bits than its old body \(old 0x[0-9a-f]*015b; new 0x[0-9a-f]*016b\)/), 120_000);

  const OFFSET: ReadonlyArray<readonly [Toolchain, string]> = [['gcc', '-O0'], ['gcc', '-O1'], ['clang', '-O0'], ['clang', '-O2']];

  // The word at +0 is the initialiser's bytes from +4 (its tag 0x5a5a5a5a skipped).
  test.each(OFFSET)('bitfield-helper-offset (%s %s): the word copied by a helper of the DLL\'s own from the initialiser\'s +4, its fields swapped; writer and reader refused; carried anyway, the patched process prints neither version', (tc, opt) =>
    carriedNeither('bitfield-helper-offset', tc, opt, /^it stores the word at \+0x0 copied from a read-only constant with other bits than its old body \(old 0x[0-9a-f]*0000015b; new 0x[0-9a-f]*0000016b\)/), 120_000);

  // The copy is 5 qwords, 40 bytes: the word at +0x20 is in it.
  test.each(HELPER)('bitfield-helper-units (%s %s): the word at +32 copied by a helper of the DLL\'s own counting qwords (r8 = 5), its fields swapped; writer and reader refused; carried anyway, the patched process prints neither version', (tc, opt) =>
    carriedNeither('bitfield-helper-units', tc, opt, /^it stores the word at \+0x20 as the upper bytes of a wider constant with other bits than its old body \(old 0x15b; new 0x16b\)/), 120_000);

  // The twins: a new flag set in the initialiser (copied from +0 by copy_bytes and copy_qwords, from +4 by copy_body), unpack's formula.
  test.each([...HELPER.flatMap(([tc, opt]) => ['bitfield-helper-copy-fix', 'bitfield-helper-units-fix'].map((name) => [name, tc, opt] as const)), ...OFFSET.map(([tc, opt]) => ['bitfield-helper-offset-fix', tc, opt] as const)])('%s (%s %s): the initialiser copied by a helper of the DLL\'s own sets a new flag, the layout stays: hotpatchable, and patched live it prints v2', async (name, tc, opt) => {
    const { h, old, neu, d } = await startProbe(name, tc, opt);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual(['init: hotpatchable', 'unpack: hotpatchable']);
    const pkg = await writeProbePackage(suite.dir(), d, `${name}.dll`, `${name}-${tc}${opt}.hpk`);
    expect(await patchedRound(h, pkg, `${name}.dll`)).toBe(neu);
  }, 120_000);

  // Before: init and unpack hotpatchable at all 8 builds but gcc -O2/-Os, where init (`jmp copy_bytes`, `jmp copy_body`: 15
  // bytes) was refused as SHORT_BRANCH_LEAVES and unpack carried alone. bitfield-helper-offset: the call was taken for a copy
  // from +0, which put the unchanged tag at +0; now copy_body's body is read (bitfield-copy-callee.ts): it loads at +4 what it
  // stores at +0, a copy from +4. bitfield-helper-units: the count (5) taken for bytes, the copy seen covered +0..+4, not the
  // word at +0x20; now the unit is copy_qwords' narrowest load of the source (8 bytes), a copy of 40 bytes.
  test.each(BUILDS.flatMap(([tc, opt]) => ['bitfield-helper-copy', 'bitfield-helper-offset', 'bitfield-helper-units'].map((name) => [name, tc, opt] as const)))('%s and its fix (%s %s): the word copied by a helper of the DLL\'s own refused with its reader; the twin hotpatchable but where init is too short to redirect', (name, tc, opt) => {
    const dir = join(suite.dir(), 'verdicts', opt);
    const d = diffDlls(buildLayoutProbe(dir, name, 1, tc, opt), buildLayoutProbe(dir, name, 2, tc, opt));
    expect(changedVerdicts(d)).toEqual([`init: ${CODE}`, `unpack: ${CODE}`]);
    const fix = diffDlls(buildLayoutProbe(dir, `${name}-fix`, 1, tc, opt), buildLayoutProbe(dir, `${name}-fix`, 2, tc, opt));
    const short = tc === 'gcc' && (opt === '-O2' || opt === '-Os');
    expect(changedVerdicts(fix)).toEqual([short ? 'init: SHORT_BRANCH_LEAVES' : 'init: hotpatchable', 'unpack: hotpatchable']);
  }, 60_000);

  const LITERAL = ['bitfield-literal-stack', 'bitfield-literal-zeros'] as const;

  // The temporary's 96 bytes, the word at +0x40 among them.
  test.each(LITERAL)('%s (clang -O0): a 96-byte literal built in a stack temporary and memcpy\'d to the object, its word\'s fields swapped; writer and reader refused; carried anyway, the patched process prints neither version', (name) =>
    carriedNeither(name, 'clang', '-O0', /^it stores the word at \+0x40 as the upper bytes of a wider constant with other bits than its old body \(old 0x1c3d[0-9a-f]*015b; new 0x1c3d[0-9a-f]*016b\)/), 120_000);

  test.each(LITERAL.map((name) => `${name}-fix`))('%s (clang -O0): the literal built in a stack temporary sets a new flag, the layout stays: hotpatchable, and patched live it prints v2', async (name) => {
    const { h, old, neu, d } = await startProbe(name, 'clang', '-O0');
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual(['init: hotpatchable', 'unpack: hotpatchable']);
    const pkg = await writeProbePackage(suite.dir(), d, `${name}.dll`, `${name}-clang-O0.hpk`);
    expect(await patchedRound(h, pkg, `${name}.dll`)).toBe(neu);
  }, 120_000);

  // Before: init and unpack hotpatchable at clang -O0 (the temporary's slots, filled by memset or a memcpy of read-only bytes
  // and stores, then copied by memcpy from the frame: neither copy followed). gcc -Os keeps bitfield-literal-stack's literal in
  // .data (GLOBAL_INITIAL_VALUE_CHANGED, init unchanged); gcc -O2 stores bitfield-literal-stack-fix's word by a read-modify-write
  // whose constants changed (refused before, as bitfield-rodata-fix's tail at gcc -O2).
  test.each(BUILDS)('bitfield-literal-stack, -zeros and their fixes (%s %s): the word of a literal built in a stack temporary refused with its reader; the twins hotpatchable', (tc, opt) => {
    const dir = join(suite.dir(), 'verdicts', opt);
    for (const name of LITERAL) {
      const d = diffDlls(buildLayoutProbe(dir, name, 1, tc, opt), buildLayoutProbe(dir, name, 2, tc, opt));
      const fix = diffDlls(buildLayoutProbe(dir, `${name}-fix`, 1, tc, opt), buildLayoutProbe(dir, `${name}-fix`, 2, tc, opt));
      const data = name === 'bitfield-literal-stack' && tc === 'gcc' && opt === '-Os';
      expect(changedVerdicts(d), `${name} ${tc} ${opt}`).toEqual(data ? ['unpack: hotpatchable'] : [`init: ${CODE}`, `unpack: ${CODE}`]);
      const rmw = name === 'bitfield-literal-stack' && tc === 'gcc' && opt === '-O2';
      expect(changedVerdicts(fix), `${name}-fix ${tc} ${opt}`).toEqual(data ? ['unpack: hotpatchable'] : rmw ? [`init: ${CODE}`, `unpack: ${CODE}`] : ['init: hotpatchable', 'unpack: hotpatchable']);
      if (data) for (const x of [d, fix]) expect([...new Set(x.data.map((e) => e.reason.code))]).toEqual(['GLOBAL_INITIAL_VALUE_CHANGED']);
    }
  }, 60_000);

  const FILL: ReadonlyArray<readonly [Toolchain, string]> = [['gcc', '-O0'], ['gcc', '-O2'], ['clang', '-O2']];

  test.each(FILL)('bitfield-fill (%s %s): a field set to all ones by a lone in-place `or [rcx],imm`, fields swapped; refused; carried anyway, the patched process misreads it', async (tc, opt) => {
    const { h, old, neu, d } = await startProbe('bitfield-fill', tc, opt);
    // Only the layout changed: both versions print the same line.
    expect(neu).toBe(old);
    expect(changedVerdicts(d)).toEqual([`init: ${CODE}`, `unpack: ${CODE}`]);
    expect(d.functions.find((f) => f.name === 'init')?.reason?.message).toContain('(old only: fill set 0x7; new only: fill set 0xe0; needs a baseline)');
    const before = liftRule(d, CODE);
    expect(before.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writeProbePackage(suite.dir(), before, 'bitfield-fill.dll', `bitfield-fill-${tc}${opt}.hpk`);
    expect(await patchedRound(h, pkg, 'bitfield-fill.dll')).not.toBe(old);
  }, 120_000);

  test.each(FILL)('bitfield-fill-fix (%s %s): the same fill, init and unpack changed elsewhere: hotpatchable, and patched live the new unpack reads the old word', async (tc, opt) => {
    const { h, old, neu, d } = await startProbe('bitfield-fill-fix', tc, opt);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual(['init: hotpatchable', 'unpack: hotpatchable']);
    const pkg = await writeProbePackage(suite.dir(), d, 'bitfield-fill-fix.dll', `bitfield-fill-fix-${tc}${opt}.hpk`);
    // Old init ran before the patch (kind 7, no count): v2's formula gives 7 * 10 + 0 (v2 itself, having counted, 71).
    expect(await patchedRound(h, pkg, 'bitfield-fill-fix.dll')).toBe('unpack() = 70\n');
  }, 120_000);

  // -O0 stores each field alone, reloading the argument from its stack slot (gcc's third field lands in the byte at +1).
  test.each([['gcc', '-O2', 11], ['clang', '-O1', 11], ['clang', '-O2', 11], ['gcc', '-O0', 7], ['clang', '-O0', 11]] as const)('bitfield-rotate (%s %s): three equal fields rotate in one read-modify-write (equal constant sets); packer and reader refused; carried anyway, the patched process misreads them', async (tc, opt, top) => {
    const { h, old, neu, d } = await startProbe('bitfield-rotate', tc, opt);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual([`pack: ${CODE}`, `unpack: ${CODE}`]);
    expect(d.functions.find((f) => f.name === 'pack')?.reason?.message).toMatch(new RegExp(`^it merges fields into the word at \\+0x0 \\(a read-modify-write\\) with its fields at other bits than its old body \\(inputs moved over bits 0-${top}\\)`));
    const before = liftRule(d, CODE);
    expect(before.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writeProbePackage(suite.dir(), before, 'bitfield-rotate.dll', `bitfield-rotate-${tc}${opt}.hpk`);
    const after = await patchedRound(h, pkg, 'bitfield-rotate.dll');
    expect(after).not.toBe(neu);
    expect(after).not.toBe(old);
  }, 120_000);

  // The word stored as byte immediates, or from a register, or read in parts (bitfield-immediates.ts).
  const SPLIT: ReadonlyArray<readonly [string, Toolchain, string, string]> = [
    ['bitfield-immediate-halves', 'gcc', '-O1', 'unpack() = 3630\n'],
    ['bitfield-immediate-bytes', 'gcc', '-O2', 'unpack() = 4004\n'],
  ];
  test.each(SPLIT)('%s (%s %s): the word stored in parts or from a register, its fields moved; writer and reader refused; carried anyway, the patched process prints neither version', async (name, tc, opt) => {
    const how = name === 'bitfield-immediate-halves' ? 'in adjacent parts' : 'from a register loaded with one constant';
    await carriedNeither(name, tc, opt, new RegExp(`^it stores the word at \\+0x0 ${how} with other bits than its old body \\(old 0x(595b|b36b); new 0x(955b|b6cb)\\)`));
  }, 120_000);

  test.each(SPLIT)('%s-fix (%s %s): another value stored, the layout stays: hotpatchable, and patched live the new unpack reads the old value', async (name, tc, opt, line) => {
    const { h, old, neu, d } = await startProbe(`${name}-fix`, tc, opt);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual(['init: hotpatchable', 'unpack: hotpatchable']);
    const pkg = await writeProbePackage(suite.dir(), d, `${name}-fix.dll`, `${name}-fix-${tc}${opt}.hpk`);
    // init ran once before the patch: v2's formula over the value old init stored.
    expect(await patchedRound(h, pkg, `${name}-fix.dll`)).toBe(line);
  }, 120_000);

  test.each(BUILDS)('bitfield-signed and its fix (%s %s): the sign-extending reader of swapped signed fields refused with the packer; the twin hotpatchable', (tc, opt) => {
    const dir = join(suite.dir(), 'verdicts', opt);
    const d = diffDlls(buildLayoutProbe(dir, 'bitfield-signed', 1, tc, opt), buildLayoutProbe(dir, 'bitfield-signed', 2, tc, opt));
    expect(changedVerdicts(d)).toEqual([`pack: ${CODE}`, `unpack: ${CODE}`]);
    expect(d.functions.find((f) => f.name === 'unpack')?.reason?.message).toMatch(/^it decodes (bits 0 and up of the word at \+0x0 with other mask or shift constants|the word at \+0x0 at bits 0-4 where its old body decoded bits 3-7)/);
    const fix = diffDlls(buildLayoutProbe(dir, 'bitfield-signed-fix', 1, tc, opt), buildLayoutProbe(dir, 'bitfield-signed-fix', 2, tc, opt));
    expect(changedVerdicts(fix)).toEqual(['unpack: hotpatchable']);
  }, 60_000);

  // Before: both hotpatchable at gcc -O0 (the fill through a register).
  test.each(BUILDS)('bitfield-fill and its fix (%s %s): the fill refused with its reader; the twin hotpatchable', (tc, opt) => {
    const dir = join(suite.dir(), 'verdicts', opt);
    const d = diffDlls(buildLayoutProbe(dir, 'bitfield-fill', 1, tc, opt), buildLayoutProbe(dir, 'bitfield-fill', 2, tc, opt));
    expect(changedVerdicts(d)).toEqual([`init: ${CODE}`, `unpack: ${CODE}`]);
    const fix = diffDlls(buildLayoutProbe(dir, 'bitfield-fill-fix', 1, tc, opt), buildLayoutProbe(dir, 'bitfield-fill-fix', 2, tc, opt));
    expect(changedVerdicts(fix)).toEqual(['init: hotpatchable', 'unpack: hotpatchable']);
  }, 60_000);

  // Before: init and unpack hotpatchable at gcc -O1/-O2/-Os and clang -O1/-O2/-Os (halves), gcc -O2/-Os (bytes).
  const SPLIT_FIX: Readonly<Record<string, readonly string[]>> = {
    'bitfield-immediate-halves-fix gcc -O0': [`init: ${CODE}`, 'unpack: hotpatchable'],
    'bitfield-immediate-halves-fix clang -O0': [`init: ${CODE}`, `unpack: ${CODE}`],
    'bitfield-immediate-bytes-fix gcc -O0': [`init: ${CODE}`, 'unpack: hotpatchable'],
    'bitfield-immediate-bytes-fix gcc -O1': [`init: ${CODE}`, `unpack: ${CODE}`],
    'bitfield-immediate-bytes-fix clang -O0': [`init: ${CODE}`, `unpack: ${CODE}`],
  };
  test.each(BUILDS)('bitfield-immediate-halves, -bytes and their fixes (%s %s): the word stored in parts refused with its reader; the twins hotpatchable but where a read-modify-write refuses them', (tc, opt) => {
    const dir = join(suite.dir(), 'verdicts', opt);
    for (const name of ['bitfield-immediate-halves', 'bitfield-immediate-bytes']) {
      const d = diffDlls(buildLayoutProbe(dir, name, 1, tc, opt), buildLayoutProbe(dir, name, 2, tc, opt));
      expect(changedVerdicts(d), `${name} ${tc} ${opt}`).toEqual([`init: ${CODE}`, `unpack: ${CODE}`]);
      const fix = diffDlls(buildLayoutProbe(dir, `${name}-fix`, 1, tc, opt), buildLayoutProbe(dir, `${name}-fix`, 2, tc, opt));
      expect(changedVerdicts(fix), `${name}-fix ${tc} ${opt}`).toEqual(SPLIT_FIX[`${name}-fix ${tc} ${opt}`] ?? ['init: hotpatchable', 'unpack: hotpatchable']);
    }
  }, 60_000);

  // Before: unpack hotpatchable at gcc -O0/-O2/-Os and clang -O0 (pack refused), both at gcc -O1.
  test.each([['gcc', '-O1', []], ['gcc', '-O2', ['unpack']], ['clang', '-O0', ['unpack']]] as const)('bitfield-signed (%s %s): what was carried before (sign extension decoded no bit); the patched process prints neither version', async (tc, opt, names) => {
    const { h, old, neu, d } = await startProbe('bitfield-signed', tc, opt);
    expect(neu).not.toBe(old);
    const before = liftRule(d, CODE, names.length > 0 ? names : undefined);
    expect(changedVerdicts(before)).toEqual([names.length > 0 ? `pack: ${CODE}` : 'pack: hotpatchable', 'unpack: hotpatchable']);
    const pkg = await writeProbePackage(suite.dir(), before, 'bitfield-signed.dll', `bitfield-signed-${tc}${opt}.hpk`, true);
    const after = await patchedRound(h, pkg, 'bitfield-signed.dll');
    expect(after).not.toBe(neu);
    expect(after).not.toBe(old);
  }, 120_000);

  test.each([['gcc', '-O2'], ['clang', '-O0'], ['clang', '-O2']] as const)('bitfield-signed-fix (%s %s): one layout, unpack\'s formula changes: hotpatchable, and patched live it prints v2', async (tc, opt) => {
    const { h, old, neu, d } = await startProbe('bitfield-signed-fix', tc, opt);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual(['unpack: hotpatchable']);
    const pkg = await writeProbePackage(suite.dir(), d, 'bitfield-signed-fix.dll', `bitfield-signed-fix-${tc}${opt}.hpk`);
    expect(await patchedRound(h, pkg, 'bitfield-signed-fix.dll')).toBe(neu);
  }, 120_000);
});
