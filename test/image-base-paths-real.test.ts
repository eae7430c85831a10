/**
 * `[reg + idx*k + disp32]` loads proven __ImageBase-relative off the straight line, on MSVC's
 * watcher 2.5.1 (samples/real; skipped with the reason when the cache lacks it): the base
 * register loaded once in the prologue and read in a loop far below (every path proven,
 * compiler/disasm/base-paths.ts imageBaseUnknown), __ImageBase as the index of a scale-1
 * operand, and a large stack frame's `[rsp + disp32]`, which is no reference at all. The same
 * bytes with the prologue's `lea` loading __ImageBase + 1 leave the load unproven.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { findFunctions } from '../compiler/index.ts';
import type { DecodedFunction } from '../compiler/image/types.ts';
import { cachePath, realPairs } from '../samples/real/real-files.ts';

const pair = realPairs().find((p) => p.label === 'watcher-2.5.0-2.5.1');
const newPath = pair === undefined ? '' : cachePath(pair.new);
const unavailable = pair === undefined ? 'pair not in samples/real/manifest.json' : !existsSync(newPath) ? 'watcher 2.5.1 not in samples/real/cache (run npm run samples:fetch)' : undefined;

/** The decoded function entered at `entry` in `bytes`. */
function decoded(bytes: Uint8Array, entry: number): DecodedFunction {
  const t = findFunctions(bytes);
  if (!t.ok) throw new Error(t.error.message);
  const f = t.value.functions.find((x) => x.entry === entry);
  if (f === undefined) throw new Error(`no function at 0x${entry.toString(16)}`);
  return f.decoded;
}

/** Whether the image-relative field of the instruction at `insnRva` is proven. */
function proven(d: DecodedFunction, insnRva: number): boolean {
  const r = d.refs.find((x) => x.kind === 'imagerel32' && x.insnRva === insnRva);
  if (r === undefined) throw new Error(`no image-relative field at 0x${insnRva.toString(16)}`);
  return d.imageBaseFields.includes(r.fieldRva);
}

describe.skipIf(unavailable !== undefined)(`__ImageBase proven on every path${unavailable === undefined ? '' : `: skipped, ${unavailable}`}`, () => {
  const bytes = unavailable === undefined ? new Uint8Array(readFileSync(newPath)) : new Uint8Array(0);

  it('a base loaded in the prologue and read in a loop is proven; loading __ImageBase + 1 there is not', () => {
    // 0x3cdf0: `lea rbx, [rip - 0x3ce2a]` (= __ImageBase) at 0x3ce23; the loop reads
    // `movzx ecx, byte [rbx + rax*4 + 0x63c52]` at 0x3cfef, 0x1cc bytes and several entering
    // branches later.
    const d = decoded(bytes, 0x3cdf0);
    expect(proven(d, 0x3cfef)).toBe(true);
    const lea = [0x48, 0x8d, 0x1d, 0xd6, 0x31, 0xfc, 0xff];
    const text = Buffer.from(bytes).toString('hex');
    const at = text.indexOf(Buffer.from(lea).toString('hex'));
    expect(at % 2).toBe(0);
    expect(text.indexOf(Buffer.from(lea).toString('hex'), at + 1)).toBe(-1);
    const mutated = bytes.slice();
    mutated[at / 2 + 3] = 0xd7; // lea rbx, [rip - 0x3ce29]: __ImageBase + 1
    expect(proven(decoded(mutated, 0x3cdf0), 0x3cfef)).toBe(false);
  });

  it('__ImageBase as the index of a scale-1 operand is proven', () => {
    // 0x3b268: `lea r12, [__ImageBase]`, then `cmp al, [rdi + r12*1 + 0x63ef8]` in a loop.
    expect(proven(decoded(bytes, 0x3b268), 0x3b2a2)).toBe(true);
  });

  it('a stack slot `[rsp + disp32]` is no image-relative reference', () => {
    // 0x4dfe0 stores to [rsp + 0x1040]: 0x1040 is also an RVA in .text.
    const d = decoded(bytes, 0x4dfe0);
    expect(d.refs.some((r) => r.insnRva === 0x4e007)).toBe(false);
  });
});
