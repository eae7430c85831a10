/**
 * Dead frameless leaves in the gaps between functions (clang, stripped): found with their
 * extent; anything of another shape stays unowned.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { parsePe } from '../../runtime/pe/parse-pe.ts';
import { scenarioDll } from '../../samples/scenarios.ts';
import { mapImage } from '../image/map-image.ts';
import { discoverFunctions } from './discover-functions.ts';

function functionsOf(bytes: Uint8Array) {
  const pe = parsePe(bytes);
  if (!pe.ok) throw new Error(pe.error.message);
  const img = mapImage(bytes, pe.value);
  if (!img.ok) throw new Error(img.error.message);
  const t = discoverFunctions(img.value);
  if (!t.ok) throw new Error(t.error.message);
  return t.value;
}

describe('gap functions', () => {
  const dll = scenarioDll('tiny-function', 'v1', true, undefined, 'clang');
  const bytes = new Uint8Array(readFileSync(dll));
  // feature_level: clang folded its result into every caller, gave it no .pdata, and the
  // stripped build names nothing there (its RVA comes from the build with symbols).
  const FEATURE_LEVEL = 0x1850;
  const fileOffset = (rva: number): number => {
    const pe = parsePe(bytes);
    if (!pe.ok) throw new Error('parse');
    const s = pe.value.sections.find((x) => rva >= x.virtualAddress && rva < x.virtualAddress + x.virtualSize)!;
    return rva - s.virtualAddress + s.pointerToRawData;
  };

  test('a dead leaf without .pdata (clang, stripped) is a function of its own, 3 bytes long', () => {
    const f = functionsOf(bytes).byEntry.get(FEATURE_LEVEL);
    expect(f?.pdata).toEqual([]);
    expect(f?.ranges).toEqual([{ start: FEATURE_LEVEL, end: FEATURE_LEVEL + 3 }]);
    expect(Buffer.from(bytes.subarray(fileOffset(FEATURE_LEVEL), fileOffset(FEATURE_LEVEL) + 3)).toString('hex')).toBe('31c0c3');
  });

  test('the same bytes moving the stack (push/pop: such code needs .pdata) stay unowned', () => {
    const b = bytes.slice();
    // push rbx; pop rbx; ret, then int3 padding: the same 16-byte slot.
    b.set([0x53, 0x5b, 0xc3], fileOffset(FEATURE_LEVEL));
    expect(functionsOf(b).containing(FEATURE_LEVEL)).toBeUndefined();
  });

  test('a gap something points at is no dead leaf: an RVA of it stored in data keeps it unowned', () => {
    const b = bytes.slice();
    const pe = parsePe(b);
    if (!pe.ok) throw new Error('parse');
    // Write the RVA into 8 zero bytes near the end of .rdata's mapped contents.
    const rdata = pe.value.sections.find((s) => s.name === '.rdata')!;
    let at = rdata.pointerToRawData + Math.min(rdata.virtualSize, rdata.sizeOfRawData) - 8;
    while (!b.subarray(at, at + 8).every((x) => x === 0)) at -= 8;
    expect(at).toBeGreaterThan(rdata.pointerToRawData);
    new DataView(b.buffer).setUint32(at, FEATURE_LEVEL + 1, true);
    expect(functionsOf(b).containing(FEATURE_LEVEL)).toBeUndefined();
  });

  test('invalid bytes where a leaf would be stay unowned', () => {
    const b = bytes.slice();
    b.set([0x06, 0x06, 0xc3], fileOffset(FEATURE_LEVEL)); // 0x06 is invalid in 64-bit mode
    expect(functionsOf(b).containing(FEATURE_LEVEL)).toBeUndefined();
  });
});
