/**
 * The format 2 field defaults (FORMAT.md, "Changelog" 2.0): the encoder leaves out what a
 * reader can rebuild exactly (machine AMD64, the compiler's name, a function's status, its
 * unchanged RVA and size, a redirect's kind and target), a 2.x reader rebuilds it, and a 1.x
 * payload keeps its 1.x meaning (an absent status or kind is still refused there). And those
 * of 2.1: a code block's alignment of 16 and an unwind entry's end at its block's end.
 */
import Long from 'long';
import { describe, expect, it } from 'vitest';
import { decodePayload, encodePayload } from './codec.ts';
import { hotpatch } from './generated/hotpatch.js';
import { packageToJson } from './json.ts';
import type { HotpatchPackage } from './package.ts';
import { fullPackage, minimalPackage } from './testing/sample-packages.ts';

const compiled = async (): Promise<HotpatchPackage> => ({ ...(await minimalPackage()), producer: { compilerVersion: 'hotpatch-compiler 0.1.0', parameters: [] } });

describe('format 2 field defaults', () => {
  it('leaves out what a reader rebuilds, and a 2.x reader rebuilds the same package', async () => {
    const p = await compiled();
    const raw = encodePayload(p);
    const wire = hotpatch.Package.decode(raw);
    expect(wire.target?.machine ?? 0).toBe(0);
    // ImageBase 0x180000000 in 64 KiB units.
    expect([Number(wire.target?.imageBase ?? 0), wire.target?.imageBaseHigh]).toEqual([0, 0x18000]);
    // The default baseline's first package: no series at all.
    expect(p.series.sequence).toBe(1);
    expect(wire.series ?? null).toBe(null);
    expect(wire.producer?.compilerVersion ?? '').toBe('');
    expect(wire.producer?.version).toBe((0 << 20) | (1 << 10) | 0);
    const f = wire.functions[0]!;
    expect([f.status ?? 0, f.newRva ?? 0, f.oldRva]).toEqual([0, 0, 0x1000]);
    const r = wire.redirects[0]!;
    expect([r.kind ?? 0, r.target ?? null]).toEqual([0, null]);
    const back = decodePayload(raw, 2);
    expect(back.ok && packageToJson(back.value)).toEqual(packageToJson(p));
    // Every saving together: the same package with every field written out is larger.
    const explicit = hotpatch.Package.encode({
      ...wire,
      target: { ...wire.target, machine: 0x8664, imageBaseHigh: 0, imageBase: Long.fromNumber((wire.target?.imageBaseHigh ?? 0) * 0x10000, true) },
      series: { sequence: 1 },
      producer: { compilerVersion: 'hotpatch-compiler 0.1.0' },
      functions: [{ ...f, status: 1, newRva: 0x1000 }],
      redirects: [{ ...r, kind: 1, target: { blockId: 0, offset: 0 } }],
    }).finish();
    expect(explicit.length - raw.length).toBeGreaterThanOrEqual(3 + 4 + 2 + 24 - 4 + 2 + 3 + 2 + 2);
  });

  it('does not apply the 2.0 defaults to a 1.x payload', async () => {
    const raw = encodePayload(await compiled());
    const v1 = decodePayload(raw, 1);
    expect(v1.ok ? 'ok' : `${v1.error.code}: ${v1.error.message}`).toBe('PKG_INVALID: series is missing');
  });

  it('refuses an ImageBase given both ways', async () => {
    const wire = hotpatch.Package.decode(encodePayload(await compiled()));
    const both = hotpatch.Package.encode({ ...wire, target: { ...wire.target, imageBase: Long.fromNumber(0x10000, true) } }).finish();
    const r = decodePayload(both, 2);
    expect(r.ok ? 'ok' : `${r.error.code}: ${r.error.message}`).toBe('PKG_INVALID: target: image_base and image_base_high are both set');
  });

  it('writes a field out whenever the default would not rebuild it exactly', async () => {
    const full = await fullPackage();
    const edits: Array<readonly [string, HotpatchPackage]> = [
      ['another compiler', { ...full, producer: { ...full.producer, compilerVersion: 'hotpatch-compiler 01.2.3' } }],
      ['a version part over 1023', { ...full, producer: { ...full.producer, compilerVersion: 'hotpatch-compiler 1024.0.0' } }],
      ['a redirect into the middle of its function', { ...full, redirects: full.redirects.map((r, i) => (i === 0 ? { ...r, target: { ...r.target, offset: r.target.offset + 1 } } : r)) }],
      ['an ImageBase that is not a multiple of 64 KiB', { ...full, target: { ...full.target, imageBase: 0x1_8000_1000n } }],
      ['a moved function', { ...full, functions: full.functions.map((f) => (f.status === 'changed' ? { ...f, newRva: (f.newRva + 0x10) as typeof f.newRva } : f)) }],
    ];
    const second = await compiled();
    edits.push(['the second package of a series', { ...second, series: { ...second.series, sequence: 2 } }]);
    for (const [what, p] of edits) {
      const back = decodePayload(encodePayload(p), 2);
      expect(back.ok && packageToJson(back.value), what).toEqual(packageToJson(p));
    }
  });
});

describe('format 2.1 field defaults', () => {
  it('leaves out a code block alignment of 16 and an unwind entry ending at its block end; a 2.x reader rebuilds them, a 1.x payload keeps 0', async () => {
    const p = await fullPackage();
    const raw = encodePayload(p);
    const wire = hotpatch.Package.decode(raw);
    const [b0, b1] = [wire.codeBlocks[0]!, wire.codeBlocks[1]!];
    // Block 0: aligned to 16, its second entry ends at the block's end (0x83); block 1: aligned to 4.
    expect([p.codeBlocks[0]!.alignment, b0.alignment ?? 0, p.codeBlocks[1]!.alignment, b1.alignment]).toEqual([16, 0, 4, 4]);
    expect((b0.unwind?.runtimeFunctions ?? []).map((r) => r.endOffset ?? 0)).toEqual([0x50, 0]);
    const back = decodePayload(raw, 2);
    expect(back.ok && packageToJson(back.value)).toEqual(packageToJson(p));
    // Only the blocks (a 1.x payload also needs its series, kinds and statuses written out).
    const v1 = decodePayload(hotpatch.Package.encode({ target: wire.target ?? null, series: { baselineId: 'b', sequence: 1 }, codeBlocks: wire.codeBlocks, dataBlocks: wire.dataBlocks, fixups: wire.fixups ?? null }).finish(), 1);
    expect(v1.ok ? 'ok' : v1.error.message).toBe('ok');
    expect(v1.ok && [v1.value.codeBlocks[0]!.alignment, v1.value.codeBlocks[0]!.unwind?.runtimeFunctions[1]?.endOffset]).toEqual([0, 0]);
  });

  it('writes the end offset and the alignment out when they are not the defaults', async () => {
    const full = await fullPackage();
    const c0 = full.codeBlocks[0]!;
    const shorter = { ...c0, alignment: 32, unwind: { ...c0.unwind!, runtimeFunctions: c0.unwind!.runtimeFunctions.map((r, i) => (i === 1 ? { ...r, endOffset: r.endOffset - 1 } : r)) } };
    const p = { ...full, codeBlocks: [shorter, ...full.codeBlocks.slice(1)] };
    const back = decodePayload(encodePayload(p), 2);
    expect(back.ok && packageToJson(back.value)).toEqual(packageToJson(p));
  });
});

// Format 2.8: a module name ending in ".dll" travels as its stem (TargetIdentity.module_dll_stem).
describe('module name as its .dll stem (format 2.8)', () => {
  const named = async (moduleName: string): Promise<HotpatchPackage> => {
    const p = await compiled();
    return { ...p, target: { ...p.target, moduleName } };
  };
  it('writes the stem for a .dll name and the name for any other, and reads both back exactly', async () => {
    for (const [name, stem] of [['logic-fix.dll', 'logic-fix'], ['a.b.dll', 'a.b'], ['LOGIC.DLL', ''], ['addon.node', ''], ['.dll', ''], ['x.dllx', '']] as const) {
      const p = await named(name);
      const raw = encodePayload(p);
      const wire = hotpatch.Package.decode(raw);
      expect([wire.target?.moduleDllStem ?? '', wire.target?.moduleName ?? ''], name).toEqual(stem === '' ? ['', name] : [stem, '']);
      const back = decodePayload(raw, 2);
      expect(back.ok && back.value.target.moduleName, name).toBe(name);
    }
    // 4 bytes off a .dll name.
    expect(encodePayload(await named('logic-fix.dll')).length).toBe(encodePayload(await named('logic-fix.DLL')).length - 4);
  });
  it('refuses a target that carries both the name and the stem', async () => {
    const wire = hotpatch.Package.decode(encodePayload(await named('logic-fix.dll')));
    const both = hotpatch.Package.encode({ ...wire, target: { ...wire.target, moduleName: 'other.dll' } }).finish();
    const r = decodePayload(both, 2);
    expect(r.ok ? 'ok' : `${r.error.code}: ${r.error.message}`).toMatch(/^PKG_INVALID: .*module_name and module_dll_stem are both set/);
  });
});
