/**
 * The fuzz surfaces in their fast (CI) size, under the same watchdog as `npm run fuzz`:
 * every case ends within its surface's time limit and memory budget, throws nothing and keeps
 * its surface's invariants, unless test/fuzz/known-failures.json lists it. That list may only
 * shrink: a listed case that no longer fails must come off it, and no commit may add one.
 * The full runs (100,000 cases a surface by default; 1,000,000 for the issue #17 figures) are
 * `npm run fuzz -- --cases N`; their figures live in bench/results/fuzz.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mergeRun, resumeFrom } from './checkpoint.ts';
import { runSurface, type FuzzReport } from './harness.ts';
import { failureKey, KNOWN_FAILURES_PATH, readKnownFailures } from './known-failures.ts';
import { discoveryDiffCase, discoveryDiffPairs, SURFACES, type Side } from './surfaces.ts';
import { buildSeeds, SEED_FILES, SEEDS_DIR } from './seeds/build-seeds.ts';
import { diffFiles, type ImageDiff } from '../../compiler/index.ts';
import { diffAnalyses } from '../../compiler/diff/diff-images.ts';
import { matchImages } from '../../compiler/match/match-images.ts';
import { mulberry32 } from '../support/prng.ts';
import { ROOT } from '../support/hostile-inputs.ts';
import { missingTools } from '../support/tools.ts';

/** The seed of the fast run; known failures name cases of this seed. */
const FAST_SEED = 0x4850_4b31;
/** Cases per surface in CI: a few seconds each on a loaded 2-core machine. */
const FAST: Readonly<Record<string, number>> = { parser: 300, mapping: 200, 'discovery-diff': 200, loader: 300, zstd: 300, planner: 150, execute: 100 };

const known = readKnownFailures();

describe('fuzz surfaces (fast mode)', () => {
  for (const s of SURFACES) {
    it(`${s.name}: ${FAST[s.name]} cases, none crashing, hanging or over budget (${s.describe})`, async () => {
      const r: FuzzReport = await runSurface(s.name, { cases: FAST[s.name] ?? 50, seed: FAST_SEED, timeScale: 2 });
      expect(r.cases).toBe(r.requested);
      const listed = new Set(known.filter((k) => k.surface === s.name).map(failureKey));
      const found = new Set(r.failures.map(failureKey));
      const unlisted = r.failures.filter((f) => !listed.has(failureKey(f)));
      expect(unlisted.map((f) => `${f.kind} ${failureKey(f)}: ${f.detail}`)).toEqual([]);
      const fixed = [...listed].filter((k) => !found.has(k));
      expect(fixed, 'listed in known-failures.json but no longer failing: take them off the list').toEqual([]);
      // The cases reach past the first check: more than one outcome.
      expect(Object.keys(r.outcomes).length).toBeGreaterThan(1);
    }, 600_000);
  }
});

describe('the watchdog', () => {
  it('records a hang, memory over budget, a throw and a heap exhaustion, each as its own case, and carries on', async () => {
    const r = await runSurface('watchdog-selftest', { cases: 6, seed: 1, memoryMb: 128 });
    expect(r.cases).toBe(6);
    expect(r.failures.map((f) => [f.case, f.kind])).toEqual([
      [1, 'hang'],
      [2, 'over-budget'],
      [3, 'crash'],
      [4, 'over-budget'],
    ]);
    expect(r.outcomes['ok']).toBe(3); // cases 0, 2 (counted, then flagged) and 5
  }, 300_000);
});

describe('discovery-diff seeds', () => {
  const summary = (d: ImageDiff): string => JSON.stringify([d.counts, d.hotpatchable, d.functions.map((f) => [f.newRva, f.oldRva, f.status, f.verdict, f.reason?.code ?? null])]);
  const reused = ([o, n]: readonly [Side, Side]): string => summary(diffAnalyses(matchImages(o.analysis, n.analysis)));

  it('the analyses a case reuses still diff exactly as diffFiles does after 150 mutated cases ran over them', async () => {
    const pairs = discoveryDiffPairs();
    const all = [...pairs.seeds, ...pairs.samples];
    const before = all.map(reused);
    const run = discoveryDiffCase(pairs);
    for (let i = 0; i < 150; i++) await run(i, mulberry32(i + 1));
    expect(all.map(reused)).toEqual(before);
    for (const [k, [o, n]] of all.entries()) {
      const d = diffFiles(o.bytes, n.bytes);
      expect(d.ok).toBe(true);
      if (d.ok) expect(summary(d.value)).toBe(before[k]);
    }
    // Each seed pair differs in two functions (seed.c: leaf and apply_op), both hotpatchable.
    for (const [o, n] of pairs.seeds) expect(reused([o, n])).toContain('"changed":2');
  }, 300_000);

  const skip = missingTools(['mingw', 'clang']);
  it.skipIf(skip !== undefined)(`rebuild byte for byte from seed.c${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
    const out = mkdtempSync(join(tmpdir(), 'hotpatch-fuzz-seeds-test-'));
    try {
      buildSeeds(out);
      for (const f of SEED_FILES) expect(Buffer.compare(readFileSync(join(out, f)), readFileSync(join(SEEDS_DIR, f))), f).toBe(0);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('checkpoint and resume', () => {
  const env = { machine: 'test', node: process.version };
  it('a run stopped at case 25 and resumed adds up to the same figures as one run of cases 0..59', async () => {
    const opts = { seed: FAST_SEED, timeScale: 2 };
    const whole = await runSurface('zstd', { ...opts, cases: 60 });
    const first = mergeRun(null, await runSurface('zstd', { ...opts, cases: 25 }), new Date(), env);
    // The first segment was asked for 25 cases; as a part of a 60-case run it is incomplete.
    const partial = { ...first, requested: 60, complete: false };
    const prev = resumeFrom(partial, { seed: FAST_SEED, cases: 60, timeoutMs: whole.timeoutMs, memoryMb: whole.memoryMb });
    expect(prev?.next).toBe(25);
    const rest = await runSurface('zstd', { ...opts, cases: 60, from: 25 });
    const both = mergeRun(prev, rest, new Date(), env);
    expect([both.cases, both.requested, both.complete, both.segments, both.next]).toEqual([60, 60, true, 2, 60]);
    expect(both.outcomes).toEqual(whole.outcomes);
    expect(both.crashes + both.hangs + both.overBudget).toBe(whole.crashes + whole.hangs + whole.overBudget);
  }, 300_000);

  it('refuses to resume a run of other rules, or one that already ran every case', () => {
    const saved = { surface: 'zstd', seed: 1, requested: 100, cases: 40, from: 0, next: 40, timeoutMs: 5000, memoryMb: 512, started: '2026-12-03T10:00:00Z', updated: '2026-12-03T10:01:00Z' } as const;
    const want = { seed: 1, cases: 100, timeoutMs: 5000, memoryMb: 512 };
    expect(resumeFrom(saved as never, want)?.next).toBe(40);
    expect(resumeFrom(null, want)).toBeNull();
    expect(() => resumeFrom(saved as never, { ...want, seed: 2 })).toThrow(/other rules/);
    expect(() => resumeFrom(saved as never, { ...want, cases: 1_000_000 })).toThrow(/other rules/);
    expect(() => resumeFrom(saved as never, { ...want, timeoutMs: 10_000 })).toThrow(/other rules/);
    expect(() => resumeFrom({ ...saved, cases: 100, next: 100 } as never, want)).toThrow(/already ran/);
  });
});

describe('known-failures.json', () => {
  it('names only cases of the fast run, on existing surfaces', () => {
    for (const k of known) {
      expect(SURFACES.map((s) => s.name)).toContain(k.surface);
      expect(k.seed).toBe(FAST_SEED);
      expect(k.case).toBeLessThan(FAST[k.surface] ?? 0);
      expect(k.reason.length).toBeGreaterThan(0);
    }
  });

  it('only ever shrank: no commit (nor the working tree) added an entry', (ctx) => {
    const path = relative(ROOT, KNOWN_FAILURES_PATH);
    let revs: string[];
    try {
      revs = execFileSync('git', ['-C', ROOT, 'log', '--format=%H', '--', path], { encoding: 'utf8' }).split('\n').filter((x) => x !== '');
    } catch {
      ctx.skip('no git history here (an export without .git)');
      return;
    }
    const versions = revs.reverse().map((h) => new Set(readKnownFailures(execFileSync('git', ['-C', ROOT, 'show', `${h}:${path}`], { encoding: 'utf8' })).map(failureKey)));
    versions.push(new Set(known.map(failureKey)));
    for (let i = 1; i < versions.length; i++) {
      const added = [...versions[i]!].filter((k) => !versions[i - 1]!.has(k));
      expect(added, `version ${i} of ${path} adds entries`).toEqual([]);
    }
  });
});
