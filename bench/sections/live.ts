/**
 * Bench section `live`: patching a running process through the win32 agent under Wine,
 * side by side in one run with the alternative a hotpatch avoids, restarting the process.
 * For each scenario, one samples/bin/host.exe process runs v1 with its worker thread calling
 * the patched functions the whole time, and is live-patched and reverted repeatedly:
 * - pause: how long the target's threads were suspended around the redirect stores, as the
 *   agent measures it (QueryPerformanceCounter from the first SuspendThread to the last
 *   ResumeThread); the first apply into a fresh process is listed apart (Wine's first
 *   suspension of a thread is much slower than later ones);
 * - live apply total: what `hotpatch live` does after reading the file: load the signed
 *   package (signature, zstd, decode, validation), start the agent under Wine and attach,
 *   read the module and plan, execute the transaction with its state record, commit;
 * - revert total: the same for `hotpatch revert` (find the state record, revert, release);
 * - restart: stopping the host (`quit` until the process has exited) plus starting it again
 *   until its first round of output (what a restart-to-update costs under Wine, without any
 *   state the application would have to rebuild).
 * A `wineserver -p` is kept running meanwhile, which helps both sides equally.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { diffImages } from '../../compiler/diff/diff-images.ts';
import { emitPackage } from '../../compiler/emit/emit-package.ts';
import { encodePackage, loadPackage } from '../../formats/container.ts';
import { generateKeyPair, importPublicKey } from '../../formats/keys.ts';
import { openWin32Backend } from '../../runtime/backends/win32-agent.ts';
import { applyLive, revertLive } from '../../runtime/backends/win32-agent/live.ts';
import { parsePe } from '../../runtime/pe/parse-pe.ts';
import { startHost, type HostSession } from '../../samples/host/host-session.ts';
import { TOOLCHAINS, type Toolchain } from '../../samples/scenarios.ts';
import { keepWineServer, wineEnv } from '../../test/support/wine.ts';
import { markdownTable, type BenchContext, type BenchSection, type SectionResult } from '../section.ts';

interface Row {
  readonly scenario: string;
  readonly functions: number;
  /** Redirect sites the swap writes (pause against the redirect count, next to real-processes). */
  readonly redirects: number;
  readonly iterations: number;
  readonly firstPauseMs: number;
  readonly pauseMedianMs: number;
  readonly pauseMaxMs: number;
  readonly applyMedianMs: number;
  readonly revertMedianMs: number;
  readonly revertPauseMedianMs: number;
  readonly restarts: number;
  readonly restartMedianMs: number;
  readonly restartOverApply: number;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function must<T>(r: { ok: true; value: T } | { ok: false; error: { code: string; message: string } }, what: string): T {
  if (!r.ok) throw new Error(`${what}: ${r.error.code}: ${r.error.message}`);
  return r.value;
}

const r2 = (x: number): number => Math.round(x * 100) / 100;

async function measure(ctx: BenchContext, scenario: string, changedFrom: string, to: string, iterations: number, restarts: number, tc: Toolchain): Promise<Row> {
  const dir = join(ctx.root, 'samples/bin', scenario);
  const built = tc === 'clang' ? '.clang' : '';
  const oldPath = join(dir, `${changedFrom}${built}.dll`);
  const oldBytes = new Uint8Array(readFileSync(oldPath));
  const newBytes = new Uint8Array(readFileSync(join(dir, `${to}${built}.dll`)));
  const diff = must(diffImages({ bytes: oldBytes, pe: must(parsePe(oldBytes), 'parse') }, { bytes: newBytes, pe: must(parsePe(newBytes), 'parse') }), 'diff');
  const pkg = must(emitPackage(diff, { moduleName: `${scenario}.dll`, skipRefused: false, series: null, compilerVersion: 'bench' }), 'emit').pkg;
  const keys = await generateKeyPair();
  const file = must(await encodePackage(pkg, { signingKey: keys.signingKey }), 'encode');
  const trusted = must(await importPublicKey(keys.publicPem), 'key');

  let host: HostSession = must(await startHost(oldPath, { worker: true }), 'host');
  const pauses: number[] = [];
  const applies: number[] = [];
  const reverts: number[] = [];
  const revertPauses: number[] = [];
  let redirects = 0;
  try {
    for (let i = 0; i < iterations; i++) {
      const t0 = performance.now();
      const loaded = must(await loadPackage(file, { trusted: [trusted], allowUnsigned: false }), 'load');
      const b = must(await openWin32Backend({ pid: host.windowsPid, module: `${changedFrom}${built}.dll`, env: wineEnv() }), 'attach');
      const a = await applyLive(loaded.package, b);
      if (!a.ok) {
        await b.abandon();
        must(a, 'live apply');
        break;
      }
      must(await b.close(), 'commit');
      applies.push(performance.now() - t0);
      pauses.push(a.value.pauseUs / 1000);
      redirects = a.value.plan.redirects.length;
      const out = must(await host.run(), 'round');
      if (out.worker !== undefined && out.worker.errors !== 0) throw new Error(`${scenario}: worker errors after live apply`);

      const t1 = performance.now();
      const c = must(await openWin32Backend({ pid: host.windowsPid, module: `${changedFrom}${built}.dll`, env: wineEnv() }), 'attach');
      const rv = await revertLive(c);
      if (!rv.ok) {
        await c.abandon();
        must(rv, 'revert');
        break;
      }
      must(await c.close(), 'commit');
      reverts.push(performance.now() - t1);
      revertPauses.push(rv.value.pauseUs / 1000);
    }
    ctx.log(`live ${scenario}: ${iterations} apply/revert cycles, median apply ${median(applies).toFixed(1)} ms, pause ${median(pauses).toFixed(2)} ms`);

    const restartMs: number[] = [];
    for (let i = 0; i < restarts; i++) {
      const t0 = performance.now();
      must(await host.quit(), 'quit');
      host = must(await startHost(oldPath, { worker: true }), 'host');
      restartMs.push(performance.now() - t0);
    }
    const later = pauses.slice(1);
    return {
      scenario: `${scenario}${tc === 'clang' ? ' (clang)' : ''}`,
      functions: pkg.functions.length,
      redirects,
      iterations,
      firstPauseMs: r2(pauses[0] ?? NaN),
      pauseMedianMs: r2(median(later.length > 0 ? later : pauses)),
      pauseMaxMs: r2(Math.max(...(later.length > 0 ? later : pauses))),
      applyMedianMs: r2(median(applies)),
      revertMedianMs: r2(median(reverts)),
      revertPauseMedianMs: r2(median(revertPauses)),
      restarts,
      restartMedianMs: r2(median(restartMs)),
      restartOverApply: r2(median(restartMs) / median(applies)),
    };
  } finally {
    const q = await host.quit();
    if (!q.ok) host.kill();
  }
}

const section: BenchSection = {
  id: 'live',
  title: 'Live patching a running process (win32 agent under Wine) vs restarting it',
  async run(ctx: BenchContext): Promise<SectionResult> {
    keepWineServer();
    // GCC builds, and the clang-22 builds of the same scenarios (rows marked "(clang)").
    const gcc: [string, string, string][] = ctx.quick ? [['logic-fix', 'v1', 'v2']] : [['logic-fix', 'v1', 'v2'], ['new-helper', 'v1', 'v2'], ['bounds-check', 'v1', 'v2'], ['grow', 'v1', 'v2']];
    const cases = TOOLCHAINS.flatMap((tc) => gcc.map(([s, from, to]) => [s, from, to, tc] as const));
    const iterations = ctx.quick ? 3 : 10;
    const restarts = ctx.quick ? 1 : 3;
    const rows: Row[] = [];
    for (const [s, from, to, tc] of cases) rows.push(await measure(ctx, s, from, to, iterations, restarts, tc));
    const markdown = [
      'One host.exe process per scenario runs v1 with its worker thread calling the patched functions; it is live-patched to v2 and reverted',
      `${iterations} times (compiler-built, signed packages), then restarted ${restarts} time(s). Times in ms; medians; "pause" is the time the`,
      "target's threads were suspended (agent-measured), the first apply into a fresh process listed apart; \"apply\" is what `hotpatch live`",
      'does after reading the file (verify + decode the package, start the agent under Wine, attach, plan, transaction, commit); "restart" is',
      'quit + start of the host until its first output. Wine on a shared machine: expect noise in the pauses (the wineserver is shared).',
      '',
      markdownTable(
        ['scenario', 'functions', 'redirects', 'first pause', 'pause (median)', 'pause (max)', 'live apply', 'revert', 'revert pause', 'restart', 'restart / live apply'],
        rows.map((r) => [r.scenario, r.functions, r.redirects, r.firstPauseMs, r.pauseMedianMs, r.pauseMaxMs, r.applyMedianMs, r.revertMedianMs, r.revertPauseMedianMs, r.restartMedianMs, `${r.restartOverApply}x`]),
      ),
    ].join('\n');
    return { markdown, data: { iterations, restarts, rows } };
  },
};

export default section;
