/**
 * Test support for the planner fuzzers (runtime/plan/plan.fuzz.test.ts and the fuzz harness's
 * planner and execute surfaces): a sample's real package, and structural mutations of it
 * (fixups, redirects, block bytes, unwind, imports, functions, identity).
 */
import { diffFiles, type ImageDiff } from '../../compiler/index.ts';
import { emitPackage } from '../../compiler/emit/emit-package.ts';
import { asRva } from '../../common/types.ts';
import type { Fixup, FixupKind, HotpatchPackage } from '../../formats/package.ts';
import { sampleBytes } from '../../runtime/apply/testing/fixtures.ts';

const emitted = new Map<string, { diff: ImageDiff; pkg: HotpatchPackage }>();

/** The diff of a sample scenario's v1 -> v2 and the compiler's package for it (computed once per process). */
export function compileWithDiff(scenario: string): { diff: ImageDiff; pkg: HotpatchPackage } {
  const done = emitted.get(scenario);
  if (done !== undefined) return done;
  const o = sampleBytes(scenario, 'v1.dll');
  const n = sampleBytes(scenario, 'v2.dll');
  const d = diffFiles(o, n);
  if (!d.ok) throw new Error(d.error.message);
  const e = emitPackage(d.value, { moduleName: `${scenario}.dll`, skipRefused: false, series: null, compilerVersion: 'fuzz' });
  if (!e.ok) throw new Error(e.error.message);
  const out = { diff: d.value, pkg: e.value.pkg };
  emitted.set(scenario, out);
  return out;
}

/** The compiler's package for a sample scenario's v1 -> v2. */
export function compile(scenario: string): HotpatchPackage {
  return compileWithDiff(scenario).pkg;
}

export type Mutator = (p: HotpatchPackage, r: () => number) => HotpatchPackage;

export const pick = <T>(xs: readonly T[], r: () => number): T | undefined => (xs.length === 0 ? undefined : xs[Math.floor(r() * xs.length)]);
const interesting = (r: () => number): number => pick([0, 1, 4, 5, 0xff, 0x1000, 0x7fff_ffff, 0xffff_ffff, Math.floor(r() * 0x10000)], r)!;
const KINDS: FixupKind[] = ['rel32', 'rel8', 'abs64', 'rip-disp32', 'addr32nb'];

function mutateFixup(f: Fixup, r: () => number, blockIds: readonly number[], imports: number): Fixup {
  switch (Math.floor(r() * 5)) {
    case 0:
      return { ...f, offset: interesting(r) };
    case 1:
      return { ...f, addend: BigInt(interesting(r)) * (r() < 0.5 ? -1n : 1n) };
    case 2:
      return { ...f, kind: pick(KINDS, r)! };
    case 3:
      return { ...f, target: { kind: 'image', rva: asRva(interesting(r)) } };
    default:
      if (r() < 0.2) return { ...f, target: { kind: 'unwind', offset: interesting(r) } }; // outside unwind data: refused
      return r() < 0.5
        ? { ...f, target: { kind: 'block', blockId: pick(blockIds, r) ?? 0, offset: interesting(r) } }
        : { ...f, target: { kind: r() < 0.5 ? 'import-slot' : 'import-address', index: Math.floor(r() * (imports + 2)) } };
  }
}

export const mutators: Mutator[] = [
  // A code block's fixup.
  (p, r) => {
    const i = Math.floor(r() * p.codeBlocks.length);
    const c = p.codeBlocks[i]!;
    if (c.fixups.length === 0) return p;
    const j = Math.floor(r() * c.fixups.length);
    const ids = [...p.codeBlocks, ...p.dataBlocks].map((b) => b.id);
    const fixups = c.fixups.map((f, k) => (k === j ? mutateFixup(f, r, ids, p.imports.length) : f));
    return { ...p, codeBlocks: p.codeBlocks.map((b, k) => (k === i ? { ...c, fixups } : b)) };
  },
  // A redirect's site, target, kind or expected bytes.
  (p, r) => {
    const i = Math.floor(r() * p.redirects.length);
    const d = p.redirects[i]!;
    const which = Math.floor(r() * 4);
    const m =
      which === 0
        ? { ...d, oldRva: asRva(d.oldRva + Math.floor(r() * 16) - 8) }
        : which === 1
          ? { ...d, target: { blockId: pick(p.codeBlocks.map((b) => b.id), r)! + (r() < 0.2 ? 7 : 0), offset: interesting(r) } }
          : which === 2
            ? { ...d, kind: pick(['jmp-rel32', 'jmp-abs64', 'short-to-pad'] as const, r)!, pad: r() < 0.5 ? null : { rva: asRva(d.oldRva + Math.floor(r() * 200) - 100), expected: new Uint8Array(5) } }
            : { ...d, expected: d.expected.map((b) => (r() < 0.2 ? b ^ 0xff : b)) };
    return { ...p, redirects: p.redirects.map((x, k) => (k === i ? m : x)) };
  },
  // Block bytes cut or grown, alignment changed.
  (p, r) => {
    const i = Math.floor(r() * p.codeBlocks.length);
    const c = p.codeBlocks[i]!;
    if (c.bytes.kind !== 'literal') return { ...p, codeBlocks: p.codeBlocks.map((b, k) => (k === i ? { ...c, alignment: interesting(r) } : b)) };
    const len = r() < 0.5 ? Math.floor(r() * c.bytes.bytes.length) : c.bytes.bytes.length + Math.floor(r() * 64);
    const bytes = new Uint8Array(len);
    bytes.set(c.bytes.bytes.subarray(0, len));
    return { ...p, codeBlocks: p.codeBlocks.map((b, k) => (k === i ? { ...c, bytes: { kind: 'literal' as const, bytes } } : b)) };
  },
  // Unwind: entries and their fixups.
  (p, r) => {
    const i = p.codeBlocks.findIndex((c) => c.unwind !== null);
    const c = p.codeBlocks[i];
    if (c?.unwind == null) return p;
    const u = c.unwind;
    const runtimeFunctions = u.runtimeFunctions.map((f) => (r() < 0.5 ? { ...f, endOffset: interesting(r) } : { ...f, unwindInfoOffset: interesting(r) }));
    const ids = [...p.codeBlocks, ...p.dataBlocks].map((b) => b.id);
    const unwindFixups = u.unwindFixups.map((f) => (r() < 0.5 ? mutateFixup(f, r, ids, p.imports.length) : f));
    return { ...p, codeBlocks: p.codeBlocks.map((b, k) => (k === i ? { ...c, unwind: { ...u, runtimeFunctions, unwindFixups } } : b)) };
  },
  // Imports, functions, identity.
  (p, r) => {
    const which = Math.floor(r() * 4);
    if (which === 0) return { ...p, imports: [...p.imports, { dll: pick(['KERNEL32.dll', 'nope.dll', ''], r)!, symbol: r() < 0.5 ? { kind: 'name', name: 'Sleep' } : { kind: 'ordinal', ordinal: interesting(r) } }] };
    if (which === 1) return { ...p, functions: p.functions.map((f) => ({ ...f, blockId: r() < 0.3 ? 99 : f.blockId, blockOffset: r() < 0.3 ? interesting(r) : f.blockOffset })) };
    if (which === 2) return { ...p, target: { ...p.target, reliedRanges: p.target.reliedRanges.map((x) => ({ ...x, rva: asRva(x.rva + (r() < 0.5 ? 1 : 0x100_0000)) })) } };
    return { ...p, codeBlocks: [...p.codeBlocks, { ...p.codeBlocks[0]!, id: r() < 0.5 ? p.codeBlocks[0]!.id : 1000 }] };
  },
];

/** One to three random mutations of `base`. */
export function mutatePackage(base: HotpatchPackage, r: () => number): HotpatchPackage {
  let pkg = base;
  const rounds = 1 + Math.floor(r() * 3);
  for (let k = 0; k < rounds; k++) pkg = pick(mutators, r)!(pkg, r);
  return pkg;
}
