/**
 * decodeEach places its decoder only when the next listed instruction is not where the last
 * one ended: what it hands over must be what a decoder placed at each instruction decodes,
 * for whole functions, for lists with holes (every third instruction left out) and for lists
 * out of address order (sorted first), over every function of a sample build.
 */
import { Decoder, DecoderOptions, Instruction } from 'iced-x86';
import { describe, expect, test } from 'vitest';
import { sampleAnalysis } from '../match/testing/sample-analysis.ts';
import { decodeEach, type InsnAt } from './register-effects.ts';

/** ip, length and code of the instruction at `rva`, decoded on its own. */
function alone(image: Uint8Array, rva: number): string {
  const decoder = new Decoder(64, image.subarray(rva, Math.min(image.length, rva + 15)), DecoderOptions.None);
  decoder.ip = BigInt(rva);
  const insn = new Instruction();
  decoder.decodeOut(insn);
  const out = `${insn.ip}:${insn.length}:${insn.code}`;
  insn.free();
  decoder.free();
  return out;
}

describe('decodeEach', () => {
  test.each([['cpp-exceptions', 'v2.dll'], ['bounds-check', 'v2.clang.stripped.dll']])('hands over what each instruction decodes to on its own (%s %s)', (scenario, file) => {
    const a = sampleAnalysis(scenario, file);
    const image = a.img.image;
    let seen = 0;
    for (const f of a.fns.functions) {
      const all = f.decoded.insns;
      const holes = all.filter((_, i) => i % 3 !== 1);
      const reversed = [...holes].reverse();
      for (const list of [all, holes, reversed] as ReadonlyArray<readonly InsnAt[]>) {
        const got: string[] = [];
        const order: number[] = [];
        decodeEach(image, list, (insn, d) => {
          got.push(`${insn.ip}:${insn.length}:${insn.code}`);
          order.push(d.rva);
        });
        const want = [...list].sort((x, y) => x.rva - y.rva);
        expect(order).toEqual(want.map((d) => d.rva));
        expect(got).toEqual(want.map((d) => alone(image, d.rva)));
        seen += got.length;
      }
    }
    expect(seen).toBeGreaterThan(1000);
  });
});
