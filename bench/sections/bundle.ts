/**
 * Bench section `bundle`: `hotpatch bundle` over release trees (a samples tree of several
 * scenarios, and the real sharp-win32-x64 0.34.4 -> 0.34.5 package). Time: the bundle built
 * with 1, 2 and N jobs (N = the machine's cores) against the sum of one `hotpatch build` per
 * changed module (what a release engineer's loop does today), every one a separate process as
 * a user runs it. Size: the bundle against a whole-tree delta, bsdiff and zstd -19
 * --patch-from of each changed file, summed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pairModules } from '../../bundle/pair-modules.ts';
import { sameFile } from '../../bundle/assemble.ts';
import { readTree } from '../../cli/bundle/read-tree.ts';
import { fetchRealTree, realTrees } from '../../samples/real/real-files.ts';
import { writeTree } from '../../test/support/bundle-trees.ts';
import { markdownTable, type BenchContext, type BenchSection, type Chart } from '../section.ts';
import { fileSize, runConcurrently, runTool } from '../tools.ts';

interface TreeRow {
  readonly label: string;
  readonly modules: number;
  readonly changed: number;
  /** Wall time of `hotpatch build` per changed pair, summed (ms). */
  readonly singlesMs: number;
  /** Wall time of `hotpatch bundle --jobs J` (ms) by J. */
  readonly bundleMs: Record<string, number>;
  readonly bundleBytes: number;
  /** Packages inside the bundle, summed. */
  readonly bsdiffBytes: number;
  readonly zstdBytes: number;
  readonly error: string | null;
}

const HOTPATCH = (root: string): string[] => [join(root, 'bin/hotpatch.cjs')];

/**
 * One `hotpatch` process, timed. Exit 0, 31 (`hotpatch build` of a refused module) and 33
 * (`hotpatch bundle` writing a partial bundle) are results; anything else fails the row.
 */
function timeRun(args: readonly string[]): number {
  const t = performance.now();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 60 * 60_000, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = performance.now() - t;
  if (r.status === null || ![0, 31, 33].includes(r.status)) throw new Error(`hotpatch ${args.slice(1, 2).join(' ')}: exit ${r.status ?? r.signal}: ${(r.stderr ?? '').trim().split('\n')[0] ?? ''}`);
  return ms;
}

async function measureTree(ctx: BenchContext, label: string, oldDir: string, newDir: string, work: string, jobs: readonly number[]): Promise<TreeRow> {
  const key = join(work, 'keys/hotpatch.key');
  const o = readTree(oldDir);
  const n = readTree(newDir);
  if (!o.ok || !n.ok) throw new Error(`${label}: cannot read the trees`);
  const pairing = await pairModules(o.value, n.value);
  const changed = pairing.pairs.filter((p) => !sameFile(p));
  ctx.log(`bundle: ${label}: ${pairing.pairs.length} pairs, ${changed.length} changed`);
  let singlesMs = 0;
  for (const [i, p] of changed.entries()) {
    singlesMs += timeRun([...HOTPATCH(ctx.root), 'build', join(oldDir, p.old.path), join(newDir, p.new.path), '-o', join(work, `single-${i}.hpk`), '--key', key]);
  }
  const bundleMs: Record<string, number> = {};
  const out = join(work, `${label}.hpb`);
  for (const j of jobs) {
    ctx.log(`bundle: ${label}: --jobs ${j}`);
    bundleMs[String(j)] = timeRun([...HOTPATCH(ctx.root), 'bundle', oldDir, newDir, '-o', out, '--key', key, '--jobs', String(j)]);
  }
  const zstd = ['-q', '-f', '-19', '--long=27'];
  await runConcurrently(
    changed.flatMap((p, i) => [
      ['bsdiff', [join(oldDir, p.old.path), join(newDir, p.new.path), join(work, `${i}.bsdiff`)]] as const,
      ['zstd', [...zstd, `--patch-from=${join(oldDir, p.old.path)}`, join(newDir, p.new.path), '-o', join(work, `${i}.zst`)]] as const,
    ]),
    2,
  );
  return {
    label,
    modules: pairing.pairs.length + pairing.unpaired.length + pairing.added.length,
    changed: changed.length,
    singlesMs,
    bundleMs,
    bundleBytes: fileSize(out),
    bsdiffBytes: changed.reduce((s, _p, i) => s + fileSize(join(work, `${i}.bsdiff`)), 0),
    zstdBytes: changed.reduce((s, _p, i) => s + fileSize(join(work, `${i}.zst`)), 0),
    error: null,
  };
}

const fmtMs = (ms: number | undefined): string => (ms === undefined ? '-' : ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

const section: BenchSection = {
  id: 'bundle',
  title: 'Release bundles (hotpatch bundle)',
  async run(ctx) {
    const cores = availableParallelism();
    const jobs = [...new Set([1, 2, cores])];
    const rows: TreeRow[] = [];
    const trees: Array<{ label: string; get: (work: string) => { old: string; new: string } | string }> = [
      { label: 'samples tree (5 modules)', get: (work) => writeTree(join(work, 'tree')) },
    ];
    if (!ctx.quick) {
      const t = realTrees().find((x) => x.label === 'sharp-win32-x64-0.34.4-0.34.5');
      if (t !== undefined) {
        trees.push({
          label: 'sharp-win32-x64 0.34.4 -> 0.34.5',
          get: () => {
            const o = fetchRealTree(t.old);
            const n = fetchRealTree(t.new);
            return !o.ok ? o.error.message : !n.ok ? n.error.message : { old: o.value, new: n.value };
          },
        });
      }
    }
    for (const tree of trees) {
      const work = mkdtempSync(join(tmpdir(), 'hp-bench-bundle-'));
      try {
        runTool(process.execPath, [...HOTPATCH(ctx.root), 'keygen', '--out', join(work, 'keys')]);
        const dirs = tree.get(work);
        if (typeof dirs === 'string') {
          rows.push({ label: tree.label, modules: 0, changed: 0, singlesMs: 0, bundleMs: {}, bundleBytes: 0, bsdiffBytes: 0, zstdBytes: 0, error: dirs });
          continue;
        }
        rows.push(await measureTree(ctx, tree.label, dirs.old, dirs.new, work, jobs));
      } catch (e) {
        rows.push({ label: tree.label, modules: 0, changed: 0, singlesMs: 0, bundleMs: {}, bundleBytes: 0, bsdiffBytes: 0, zstdBytes: 0, error: (e as Error).message.split('\n')[0] ?? 'failed' });
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    }
    const ok = rows.filter((r) => r.error === null);
    const timeTable = markdownTable(
      ['tree', 'modules (changed)', 'sum of single builds', ...jobs.map((j) => `bundle, --jobs ${j}`), ...jobs.slice(1).map((j) => `speed-up ${j} jobs vs 1`)],
      ok.map((r) => [
        r.label,
        `${r.modules} (${r.changed})`,
        fmtMs(r.singlesMs),
        ...jobs.map((j) => fmtMs(r.bundleMs[String(j)])),
        ...jobs.slice(1).map((j) => `${(r.bundleMs['1']! / r.bundleMs[String(j)]!).toFixed(2)}x`),
      ]),
    );
    const sizeTable = markdownTable(
      ['tree', 'bundle', 'bsdiff of each changed file, summed', 'zstd -19 --patch-from, summed', 'bundle / bsdiff', 'bundle / zstd'],
      ok.map((r) => [r.label, r.bundleBytes, r.bsdiffBytes, r.zstdBytes, `${(r.bundleBytes / r.bsdiffBytes).toFixed(3)}x`, `${(r.bundleBytes / r.zstdBytes).toFixed(3)}x`]),
    );
    const failed = rows.filter((r) => r.error !== null).map((r) => `- ${r.label}: not measured (${r.error})`);
    const markdown = [
      `Every figure is one wall-clock run of a separate process (\`node bin/hotpatch.cjs ...\`, tsx start-up included), on a machine with ${cores} core(s) shared with other jobs, so the times move from run to run. "Sum of single builds" runs \`hotpatch build\` once per changed module, one after another; the bundle pairs the trees, builds the same packages on worker threads and writes one signed file. Refused modules take part in both (their diff is the work).`,
      '',
      timeTable,
      '',
      `Sizes in bytes. The bundle holds the manifest (every module's identity and status), the signed packages of the changed modules and its signature; a refused module carries no package, so for a tree with refusals the bundle stands for less than the whole-tree deltas do.`,
      '',
      sizeTable,
      ...(failed.length > 0 ? ['', ...failed] : []),
    ].join('\n');
    const charts: Chart[] = [
      {
        id: 'bundle-time',
        title: 'Bundle build time vs single builds (ms)',
        unit: 'ms',
        log: true,
        categories: ok.map((r) => r.label),
        series: [{ name: 'sum of single builds', values: ok.map((r) => r.singlesMs) }, ...jobs.map((j) => ({ name: `bundle --jobs ${j}`, values: ok.map((r) => r.bundleMs[String(j)] ?? null) }))],
      },
    ];
    return { markdown, data: { cores, jobs, rows }, charts };
  },
};

export default section;
