/**
 * The `unwind_offset` fixup target (format 1.1): round-trips through the protobuf, is
 * accepted only in unwind fixups and only inside the unwind info, and is planned to the
 * block's placed unwind info + offset.
 */
import { expect, test } from 'vitest';
import { decodePayload, encodePayload } from './codec.ts';
import type { Fixup, HotpatchPackage } from './package.ts';
import { fullPackage } from './testing/sample-packages.ts';
import { validatePackage } from './validate.ts';

/** The sample package with one more fixup in (the unwind data of) its block that has unwind data. */
async function withFixup(where: 'unwind' | 'code', f: Fixup): Promise<HotpatchPackage> {
  const p = await fullPackage();
  const i = p.codeBlocks.findIndex((b) => b.unwind !== null);
  const b = p.codeBlocks[i]!;
  const nb = where === 'unwind' ? { ...b, unwind: { ...b.unwind!, unwindFixups: [...b.unwind!.unwindFixups, f] } } : { ...b, fixups: [...b.fixups, f] };
  return { ...p, codeBlocks: p.codeBlocks.map((x, k) => (k === i ? nb : x)) };
}

test('an unwind target round-trips and validates inside unwind data', async () => {
  const f: Fixup = { kind: 'addr32nb', offset: 4, target: { kind: 'unwind', offset: 12 }, addend: 0n };
  const p = await withFixup('unwind', f);
  expect(validatePackage(p).ok).toBe(true);
  const back = decodePayload(encodePayload(p));
  expect(back.ok).toBe(true);
  if (!back.ok) return;
  const u = back.value.codeBlocks.find((b) => b.unwind !== null)!.unwind!;
  expect(u.unwindFixups[u.unwindFixups.length - 1]).toEqual(f);
});

test('an unwind target is refused in code fixups and past the end of the unwind info', async () => {
  const inCode = await withFixup('code', { kind: 'abs64', offset: 0x48, target: { kind: 'unwind', offset: 0 }, addend: 0n });
  const r1 = validatePackage(inCode);
  expect(r1.ok).toBe(false);
  if (!r1.ok) expect(r1.error.message).toContain('unwind_offset targets belong in unwind fixups only');
  const past = await withFixup('unwind', { kind: 'addr32nb', offset: 4, target: { kind: 'unwind', offset: 17 }, addend: 0n });
  const r2 = validatePackage(past);
  expect(r2.ok).toBe(false);
  if (!r2.ok) expect(r2.error.message).toContain('past the end of the 16-byte unwind info');
});
