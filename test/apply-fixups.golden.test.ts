/**
 * Golden of resolved fixup bytes: every compiler-built sample package (every scenario step,
 * symbols and stripped, refused changes skipped) planned against the in-memory image of its
 * old DLL, and seeded mutations of one fixup each (kind, offset, addend, target), recorded
 * as the SHA-256 of every region write or the exact refusal (code and message).
 *
 * The golden file was first written by the TypeScript fixup resolution the planner had
 * before it moved into the wasm core (its applyFixups export), so this is the differential test of
 * that move: the wasm core must give the same bytes and the same refusals, in the same
 * order of checks. The packages themselves are frozen in the golden file (protobuf payload,
 * base64), so a change in the compiler's emission does not move this test; the current
 * compiler's packages are covered end to end by runtime/apply/scenarios.test.ts.
 * Regenerate with UPDATE_GOLDEN=1 (rebuilds the packages) only for an intended change, and
 * review the diff.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { diffFiles } from '../compiler/index.ts';
import { emitPackage } from '../compiler/emit/emit-package.ts';
import { asRva } from '../common/types.ts';
import { decodePayload, encodePayload } from '../formats/codec.ts';
import type { Fixup, FixupKind, HotpatchPackage } from '../formats/package.ts';
import { blockSize } from '../formats/validate.ts';
import { loadSample, ROOT, sampleBytes } from '../runtime/apply/testing/fixtures.ts';
import { planPackage } from '../runtime/plan/plan-package.ts';
import { mulberry32 as rng } from './support/prng.ts';

const GOLDEN = fileURLToPath(new URL('../runtime/pe/testdata/apply-fixups.golden.json', import.meta.url));
const UPDATE = process.env['UPDATE_GOLDEN'] === '1';
const MUTATIONS = 48;

interface Scenario {
  readonly name: string;
  readonly steps: readonly { readonly from: string; readonly to: string }[];
}


function compile(scenario: string, from: string, to: string, suffix: string): HotpatchPackage | string {
  const o = sampleBytes(scenario, `${from}${suffix}.dll`);
  const n = sampleBytes(scenario, `${to}${suffix}.dll`);
  const d = diffFiles(o, n);
  if (!d.ok) return `diff ${d.error.code}`;
  const e = emitPackage(d.value, { moduleName: `${scenario}.dll`, skipRefused: true, series: null, compilerVersion: 'fixups golden' });
  if (!e.ok) return `emit ${e.error.code}`;
  return e.value.pkg;
}

const KINDS: FixupKind[] = ['rel32', 'rel8', 'abs64', 'rip-disp32', 'addr32nb'];
const pick = <T>(xs: readonly T[], r: () => number): T => xs[Math.floor(r() * xs.length)]!;

/** Offsets, addends and targets around the edges the checks draw (field end, int8/int32/uint32/int64 limits). */
function mutateOnce(f: Fixup, r: () => number, containerLength: number, ids: readonly number[], imports: number): Fixup {
  const addends = [0n, -1n, -4n, 127n, -128n, 0x7fff_ffffn, -0x8000_0000n, 0xffff_ffffn, 0x1_0000_0000n, -0x1_0000_0000n, 0x7fff_ffff_ffff_ffffn, -0x8000_0000_0000_0000n];
  switch (Math.floor(r() * 6)) {
    case 0:
      return { ...f, kind: pick(KINDS, r) };
    case 1:
      return { ...f, offset: Math.max(0, containerLength - Math.floor(r() * 10)) };
    case 2:
      // Wrapped to int64: the format's addend is an int64 (a wider one is a programmer bug).
      return { ...f, addend: BigInt.asIntN(64, f.addend + pick(addends, r) * (r() < 0.5 ? 1n : -1n)) };
    case 3:
      return { ...f, addend: pick(addends, r) };
    case 4:
      return { ...f, target: { kind: 'image', rva: asRva(pick([0, 0x1000, 0x7fff_ffff, 0xffff_ffff, Math.floor(r() * 0x20000)], r)) } };
    default:
      return r() < 0.5
        ? { ...f, target: { kind: 'block', blockId: pick([...ids, 999], r), offset: Math.floor(r() * 0x400) } }
        : { ...f, target: { kind: r() < 0.5 ? 'import-slot' : 'import-address', index: Math.floor(r() * (imports + 2)) } };
  }
}

/** One fixup of the package (block or unwind, seeded) mutated. */
function mutatePackage(p: HotpatchPackage, r: () => number): HotpatchPackage {
  const ids = [...p.codeBlocks, ...p.dataBlocks].map((b) => b.id);
  const sites: { block: 'code' | 'data' | 'unwind'; i: number; j: number }[] = [];
  p.codeBlocks.forEach((c, i) => {
    c.fixups.forEach((_, j) => sites.push({ block: 'code', i, j }));
    c.unwind?.unwindFixups.forEach((_, j) => sites.push({ block: 'unwind', i, j }));
  });
  p.dataBlocks.forEach((d, i) => d.fixups.forEach((_, j) => sites.push({ block: 'data', i, j })));
  if (sites.length === 0) return p;
  const s = pick(sites, r);
  // Sometimes two changes to the same fixup, so the order of the checks shows (field, target, reach).
  const twice = r() < 0.3;
  const mutate = (f: Fixup, rr: () => number, n: number, i: readonly number[], m: number): Fixup => (twice ? mutateOnce(mutateOnce(f, rr, n, i, m), rr, n, i, m) : mutateOnce(f, rr, n, i, m));
  const len = (b: { bytes: HotpatchPackage['codeBlocks'][number]['bytes'] }): number => blockSize(b.bytes);
  if (s.block === 'data') {
    const d = p.dataBlocks[s.i]!;
    const fixups = d.fixups.map((f, k) => (k === s.j ? mutate(f, r, len(d), ids, p.imports.length) : f));
    return { ...p, dataBlocks: p.dataBlocks.map((b, k) => (k === s.i ? { ...d, fixups } : b)) };
  }
  const c = p.codeBlocks[s.i]!;
  if (s.block === 'code') {
    const fixups = c.fixups.map((f, k) => (k === s.j ? mutate(f, r, len(c), ids, p.imports.length) : f));
    return { ...p, codeBlocks: p.codeBlocks.map((b, k) => (k === s.i ? { ...c, fixups } : b)) };
  }
  const u = c.unwind!;
  const unwindFixups = u.unwindFixups.map((f, k) => (k === s.j ? mutate(f, r, u.unwindInfo.length, ids, p.imports.length) : f));
  return { ...p, codeBlocks: p.codeBlocks.map((b, k) => (k === s.i ? { ...c, unwind: { ...u, unwindFixups } } : b)) };
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** The plan's region writes (hashed), or the refusal. */
async function outcome(pkg: HotpatchPackage, backend: Parameters<typeof planPackage>[1]): Promise<string> {
  const r = await planPackage(pkg, backend);
  if (!r.ok) return `${r.error.code}: ${r.error.message}`;
  const writes = r.value.plan.steps.flatMap((s) => (s.op === 'write' ? [`${s.address.toString(16)}:${sha(s.bytes)}`] : []));
  return writes.join(' ');
}

interface GoldenCase {
  readonly name: string;
  /** The package's protobuf payload (base64), or why the compiler built none. */
  readonly payload: string;
  readonly fixups: number;
  readonly unwindFixups: number;
  readonly outcome: string;
  readonly mutated: readonly string[];
}

describe('resolved fixup bytes of every compiler-built sample package (golden, first written by the TypeScript resolution)', () => {
  it('same bytes and same refusals as the golden file', async () => {
    if (!UPDATE && !existsSync(GOLDEN)) throw new Error('apply-fixups.golden.json is missing; run with UPDATE_GOLDEN=1 and commit it');
    const frozen = UPDATE ? null : new Map((JSON.parse(readFileSync(GOLDEN, 'utf8')) as GoldenCase[]).map((c) => [c.name, c]));
    const scenarios = JSON.parse(readFileSync(join(ROOT, 'samples/scenarios.json'), 'utf8')) as Scenario[];
    const cases: GoldenCase[] = [];
    for (const s of scenarios) {
      for (const st of s.steps) {
        for (const suffix of ['', '.stripped']) {
          if (!existsSync(join(ROOT, 'samples/bin', s.name, `${st.from}${suffix}.dll`))) continue;
          const name = `${s.name} ${st.from}${suffix} -> ${st.to}${suffix}`;
          let pkg: HotpatchPackage | string;
          if (frozen === null) pkg = compile(s.name, st.from, st.to, suffix);
          else {
            const f = frozen.get(name);
            if (f === undefined) throw new Error(`${name}: not in the golden file (UPDATE_GOLDEN=1 to add it)`);
            if (!f.payload.startsWith('pb:')) pkg = f.payload;
            else {
              const d = decodePayload(new Uint8Array(Buffer.from(f.payload.slice(3), 'base64')));
              if (!d.ok) throw new Error(`${name}: frozen package does not decode: ${d.error.code}: ${d.error.message}`);
              pkg = d.value;
            }
          }
          if (typeof pkg === 'string') {
            cases.push({ name, payload: pkg, fixups: 0, unwindFixups: 0, outcome: pkg, mutated: [] });
            continue;
          }
          // A frozen package keeps its frozen bytes (a newer encoder may write the same package
          // differently, e.g. format 1.2 leaves the default baseline id empty).
          const payload = frozen?.get(name)?.payload ?? `pb:${Buffer.from(encodePayload(pkg)).toString('base64')}`;
          const { backend } = loadSample(s.name, `${st.from}${suffix}.dll`);
          const fixups = [...pkg.codeBlocks, ...pkg.dataBlocks].reduce((n, b) => n + b.fixups.length, 0);
          const unwindFixups = pkg.codeBlocks.reduce((n, c) => n + (c.unwind?.unwindFixups.length ?? 0), 0);
          const r = rng(cases.length + 1);
          const mutated: string[] = [];
          for (let k = 0; k < (fixups + unwindFixups > 0 ? MUTATIONS : 0); k++) mutated.push(await outcome(mutatePackage(pkg, r), backend));
          cases.push({ name, payload, fixups, unwindFixups, outcome: await outcome(pkg, backend), mutated });
          expect(backend.executed).toBe(0);
        }
      }
    }
    const total = cases.reduce((n, c) => n + c.fixups + c.unwindFixups, 0);
    // Enough real fixups for the comparison to mean something (packages carry calls, RIP-relative data, unwind handlers).
    expect(total).toBeGreaterThan(50);
    expect(cases.filter((c) => c.outcome.startsWith('PLAN_')).map((c) => c.name)).toEqual([]);
    if (frozen === null) {
      writeFileSync(GOLDEN, `${JSON.stringify(cases, null, 1)}\n`);
      return;
    }
    expect(cases.map((c) => c.name)).toEqual([...frozen.keys()]);
    for (const c of cases) expect(c, c.name).toEqual(frozen.get(c.name));
  });
});
