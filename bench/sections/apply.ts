/**
 * Bench section `apply`: how long applying a package to the in-memory process image takes,
 * for the compiler's package of every hotpatchable sample scenario step, side by side in
 * one run:
 * - cold: load the signed package file (header checks, Ed25519 signature, zstd, protobuf
 *   decode, validation), plan against the image (identity, original bytes, layout, fixups,
 *   redirects) and apply the plan as a transaction;
 * - warm: apply an already computed plan only (the executor and the backend);
 * - revert: the plan's revert steps;
 * - memcpy: a plain `Uint8Array.set` of the same number of bytes the apply writes, the floor
 *   any apply must pay; the ratio warm / memcpy is the cost of doing it safely (protection
 *   changes, expected-bytes checks, the thread rule, the undo log).
 * Medians over many iterations; the image is reverted between iterations (revert untimed
 * for cold and warm).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { diffImages } from '../../compiler/diff/diff-images.ts';
import { emitPackage } from '../../compiler/emit/emit-package.ts';
import { encodePackage, loadPackage } from '../../formats/container.ts';
import { generateKeyPair, importPublicKey } from '../../formats/keys.ts';
import { applyPackage } from '../../runtime/apply/apply-package.ts';
import { applyPlan, revertPlan } from '../../runtime/apply/execute-plan.ts';
import { MemoryBackend } from '../../runtime/backends/memory-backend.ts';
import { loadProcessImage } from '../../runtime/image/load-image.ts';
import { parsePe } from '../../runtime/pe/parse-pe.ts';
import type { WritePlan } from '../../runtime/plan/write-plan.ts';
import { markdownTable, type BenchContext, type BenchSection, type SectionResult } from '../section.ts';
import { expectationOf, readScenarios, scenarioDll, TOOLCHAINS, type SampleVersion, type Toolchain } from '../../samples/scenarios.ts';

interface Row {
  readonly scenario: string;
  readonly functions: number;
  readonly bytesWritten: number;
  readonly steps: number;
  readonly coldMs: number;
  readonly warmMs: number;
  readonly warmPerFunctionMs: number;
  readonly pauseMs: number;
  readonly revertMs: number;
  readonly memcpyMs: number;
  readonly warmOverMemcpy: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function must<T>(r: { ok: true; value: T } | { ok: false; error: { code: string; message: string } }, what: string): T {
  if (!r.ok) throw new Error(`${what}: ${r.error.code}: ${r.error.message}`);
  return r.value;
}

async function measure(ctx: BenchContext, scenario: string, from: SampleVersion, to: SampleVersion, iterations: number, tc: Toolchain): Promise<Row> {
  const binDir = join(ctx.root, 'samples/bin');
  const oldBytes = new Uint8Array(readFileSync(scenarioDll(scenario, from, false, binDir, tc)));
  const newBytes = new Uint8Array(readFileSync(scenarioDll(scenario, to, false, binDir, tc)));
  const diff = must(diffImages({ bytes: oldBytes, pe: must(parsePe(oldBytes), 'parse') }, { bytes: newBytes, pe: must(parsePe(newBytes), 'parse') }), 'diff');
  const pkg = must(emitPackage(diff, { moduleName: `${scenario}.dll`, skipRefused: false, series: null, compilerVersion: 'bench' }), 'emit').pkg;
  const keys = await generateKeyPair();
  const file = must(await encodePackage(pkg, { signingKey: keys.signingKey }), 'encode');
  const trusted = [must(await importPublicKey(keys.publicPem), 'key')];
  const img = must(loadProcessImage(oldBytes, { name: `${scenario}.dll` }), 'load image');
  const backend = new MemoryBackend(img);

  const cold: number[] = [];
  let plan: WritePlan | null = null;
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    const loaded = must(await loadPackage(file, { trusted, allowUnsigned: false }), 'load');
    const applied = must(await applyPackage(loaded.package, backend), 'apply');
    cold.push(performance.now() - t);
    plan = applied.plan;
    must(await revertPlan(backend, applied.plan), 'revert');
  }
  if (plan === null) throw new Error('no iterations');
  const warm: number[] = [];
  const revert: number[] = [];
  const pause: number[] = [];
  let bytesWritten = 0;
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    const a = must(await applyPlan(backend, plan), 'apply');
    warm.push(performance.now() - t);
    pause.push(a.pauseMs);
    bytesWritten = a.bytesWritten;
    const u = performance.now();
    must(await revertPlan(backend, plan), 'revert');
    revert.push(performance.now() - u);
  }
  // memcpy of the same bytes: batches, so the timer's resolution does not dominate.
  const src = new Uint8Array(bytesWritten).fill(0x90);
  const dst = new Uint8Array(bytesWritten);
  const batch = 1000;
  const copies: number[] = [];
  for (let i = 0; i < Math.max(20, iterations / 10); i++) {
    const t = performance.now();
    for (let k = 0; k < batch; k++) {
      src[k % src.length] = k & 0xff; // keep the copy observable
      dst.set(src);
    }
    copies.push((performance.now() - t) / batch);
  }
  if (dst[0] === undefined) throw new Error('empty copy');
  const warmMs = median(warm);
  const memcpyMs = median(copies);
  return {
    scenario: `${scenario} ${from}->${to}${tc === 'clang' ? ' (clang)' : ''}`,
    functions: pkg.functions.length,
    bytesWritten,
    steps: plan.steps.length,
    coldMs: median(cold),
    warmMs,
    warmPerFunctionMs: warmMs / Math.max(1, pkg.functions.length),
    pauseMs: median(pause),
    revertMs: median(revert),
    memcpyMs,
    warmOverMemcpy: warmMs / memcpyMs,
  };
}

const section: BenchSection = {
  id: 'apply',
  title: 'Apply to the in-memory process image',
  async run(ctx: BenchContext): Promise<SectionResult> {
    const scenarios = readScenarios().filter((s) => s.expect === 'hotpatchable');
    const iterations = ctx.quick ? 30 : 300;
    const rows: Row[] = [];
    for (const tc of TOOLCHAINS) {
      for (const s of scenarios) {
        for (const st of s.steps) {
          // A known miss (scenarios.json `misses`) has no complete package to apply.
          if (expectationOf(s, st, tc, false).expect !== 'hotpatchable') continue;
          try {
            rows.push(await measure(ctx, s.name, st.from, st.to, iterations, tc));
            ctx.log(`apply: ${s.name} ${st.from}->${st.to} (${tc}) done`);
          } catch (e) {
            ctx.log(`apply: ${s.name} ${st.from}->${st.to} (${tc}) skipped: ${(e as Error).message}`);
          }
        }
      }
    }
    const f = (ms: number): string => (ms < 0.01 ? `${(ms * 1000).toFixed(2)} µs` : `${ms.toFixed(3)} ms`);
    const markdown = [
      `Compiler-built package of each hotpatchable scenario step (samples/scenarios.json; GCC builds, and clang-22 builds marked "(clang)"; known misses left out), applied to the OLD DLL loaded in the in-memory process image (runtime/image). Medians of ${iterations} iterations each, measured in one run.`,
      '',
      '- **cold**: load the signed .hpk (formats/container.ts: header checks, Ed25519 signature, zstd, protobuf decode, validation), plan (identity, relied-on hash and original bytes checks, layout, fixups, redirects) and apply as a transaction.',
      '- **warm**: apply a computed plan only. **per fn**: warm / functions in the package. **pause**: time between suspending and resuming the (simulated) threads.',
      '- **revert**: the plan\'s revert steps. **memcpy**: `Uint8Array.set` of the same number of bytes the apply writes; **warm/memcpy**: the price of doing it as a checked, undoable transaction.',
      '',
      markdownTable(
        ['scenario', 'functions', 'bytes written', 'steps', 'cold', 'warm', 'per fn', 'pause', 'revert', 'memcpy', 'warm/memcpy'],
        rows.map((r) => [r.scenario, r.functions, r.bytesWritten, r.steps, f(r.coldMs), f(r.warmMs), f(r.warmPerFunctionMs), f(r.pauseMs), f(r.revertMs), f(r.memcpyMs), `${r.warmOverMemcpy.toFixed(0)}x`]),
      ),
    ].join('\n');
    return { markdown, data: { iterations, rows } };
  },
};

export default section;
