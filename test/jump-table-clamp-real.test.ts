/**
 * LLVM's switch whose last case is the default clamps the index instead of branching on it:
 * `cmp rax, N; mov r8d, N; cmovb r8, rax` (index = min(rax, N)), then the table load. On
 * lightningcss 1.30.2 (corpus pair lcss-1.30.1-1.30.2) the enum-to-name function at 0x2b74b0
 * (349 `lea rax, [name]; mov edx, len; ret` cases) had its table read by scanning, past its
 * 349 entries into the next table, whose entries land inside instructions (0x2b81ba, the
 * `lea`'s REX byte skipped: `lea eax, [rip+d]` sharing the field of the `lea rax` there). The
 * function was refused CODE_NOT_UNDERSTOOD, and the bench's complete-package estimate, which
 * emits refused functions anyway, produced a block with two fixups on one field
 * (PKG_INVALID: codeBlocks[55].fixups[255] overlaps fixups[254]). Checked against objdump of
 * the NEW build. The clamp is now read as the bound; a signed clamp (cmovl) is not a bound.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { findFunctions, type FunctionInfo } from '../compiler/index.ts';
import { asRva } from '../common/types.ts';
import { parsePe, rvaToFileOffset } from '../runtime/pe/parse-pe.ts';
import { fetchRealFile, realPairs } from '../samples/real/real-files.ts';

const pair = realPairs().find((p) => p.label === 'lcss-1.30.1-1.30.2')!;
const n = fetchRealFile(pair.new);
const unavailable = !n.ok ? n.error.message : undefined;

const ENTRY = 0x2b74b0;
/** `cmovb r8, rax` (4c 0f 42 c0): its condition byte. */
const CMOV_CC = 0x2b74c3 + 2;

function decodedAt(bytes: Uint8Array): FunctionInfo {
  const t = findFunctions(bytes);
  if (!t.ok) throw new Error(t.error.message);
  const f = t.value.functions.find((x) => x.entry === ENTRY);
  if (f === undefined) throw new Error('no function at 0x2b74b0');
  return f;
}

describe.skipIf(unavailable !== undefined)(`lightningcss 1.30.2, clamped switch index${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
  const bytes = (): Uint8Array => new Uint8Array(readFileSync((n as { value: string }).value));

  test('cmp + mov + cmovb bounds the table at N + 1 entries, every case an instruction start', { timeout: 120_000 }, () => {
    const f = decodedAt(bytes());
    expect(f.decoded.problems).toEqual([]);
    expect(f.decoded.jumpTables.length).toBe(1);
    const jt = f.decoded.jumpTables[0]!;
    expect(jt.count).toBe('guard');
    expect(jt.targets.length).toBe(0x15c + 1);
    expect(jt.guardRva).toBe(0x2b74b7); // the cmp, the first of the three
    const starts = new Set(f.decoded.insns.map((i) => i.rva));
    for (const t of jt.targets) expect(starts.has(t)).toBe(true);
    // The entry the scan read next (0x2b81ba, inside the `lea` at 0x2b81b9) is no case.
    expect(jt.targets).not.toContain(0x2b81ba);
    expect(starts.has(asRva(0x2b81ba))).toBe(false);
  });

  test('the same lines with a signed clamp (cmovl) give no bound: the table is not read as N + 1 cases', { timeout: 120_000 }, () => {
    const b = bytes();
    const pe = parsePe(b);
    if (!pe.ok) throw new Error(pe.error.message);
    const off = rvaToFileOffset(pe.value, asRva(CMOV_CC));
    if (off === null) throw new Error('no file offset');
    expect(b[off]).toBe(0x42); // cmovb
    b[off] = 0x4c; // cmovl: a negative rax passes through as a negative index
    const f = decodedAt(b);
    const jt = f.decoded.jumpTables[0];
    expect(jt === undefined || jt.count === 'scan').toBe(true);
    // Read by scanning, the table ends where the next table (one another function reads)
    // begins: the entry after the last case (0x2b81ba, inside the `lea` at 0x2b81b9) is not
    // read. (Before discovery ended scans there, it was, and the function was not understood.)
    if (jt !== undefined) expect(jt.targets).not.toContain(0x2b81ba);
    expect(f.decoded.problems.filter((m) => m.startsWith('overlapping'))).toEqual([]);
  });
});
