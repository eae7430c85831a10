/**
 * An instruction that runs past the end of its function's range (swc-html 1.15.24: a start
 * that an earlier discovery round found inside a `lea` cut a guessed range short, so the
 * range ended 3 bytes into it). Decoded as if whole, its RIP-relative field lay outside the
 * function's bytes: the emitter wrote a fixup past the end of its block and the build died
 * with INTERNAL. Such a function is not understood (CODE_NOT_UNDERSTOOD when it changed).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import type { Rva } from '../../common/types.ts';
import { parsePe } from '../../runtime/pe/parse-pe.ts';
import { scenarioDll } from '../../samples/scenarios.ts';
import { mapImage } from '../image/map-image.ts';
import { findFunctions } from '../index.ts';
import { openDisassembler } from './decode-function.ts';

describe('an instruction past the end of its range', () => {
  // clang's color_name: `cmp ecx, 6; ja; mov eax, ecx; lea rcx, [rip + T]; ...` (enum-names).
  const bytes = new Uint8Array(readFileSync(scenarioDll('enum-names', 'v2', false, undefined, 'clang')));
  const fns = findFunctions(bytes);
  if (!fns.ok) throw new Error(fns.error.message);
  const f = fns.value.functions.find((x) => x.name === 'color_name')!;
  const lea = f.decoded.refs.find((r) => r.kind === 'riprel32')!;
  const pe = parsePe(bytes);
  if (!pe.ok) throw new Error(pe.error.message);
  const img = mapImage(bytes, pe.value);
  if (!img.ok) throw new Error(img.error.message);
  const dis = openDisassembler(img.value);
  // The range ends inside the lea's displacement, as the discovered split did.
  const cut = lea.fieldRva + 1;
  const decode = (sweep: boolean) => dis.decodeFunction(f.entry, [{ start: f.entry, end: cut as Rva }], sweep);

  test('the whole function decodes cleanly with its own range (the lea is a reference)', () => {
    expect(f.decoded.problems).toEqual([]);
    expect(lea.insnRva).toBeGreaterThan(f.entry);
    expect(lea.insnEnd).toBeGreaterThan(cut);
  });
  for (const sweep of [false, true]) {
    test(`cut short (sweep ${sweep}): a problem naming the instruction, no reference field outside the range, the extent reaching its end`, () => {
      const d = decode(sweep);
      expect(d.problems).toEqual([`instruction at 0x${lea.insnRva.toString(16)} (${lea.insnEnd - lea.insnRva} bytes) runs past the end of the function's range`]);
      expect(d.refs.filter((r) => r.fieldRva + r.size > cut)).toEqual([]);
      expect(d.insns.every((i) => i.rva + i.length <= cut)).toBe(true);
      // finalDecode cuts a guessed range at min(range end, maxEnd): the instruction must
      // still be inside it then, so the problem stays.
      expect(d.maxEnd).toBe(lea.insnEnd);
    });
  }
});
