/**
 * End to end, the way a user does it: `hotpatch keygen`, `hotpatch build` (signed),
 * `hotpatch live` into a running samples/bin/host.exe under Wine while its worker thread
 * calls the patched functions, then `hotpatch revert`: for every hotpatchable scenario of
 * samples/scenarios.json, built by gcc and by clang, with symbols and stripped (a build with
 * a known miss, a false refusal listed in scenarios.json, is left out: the compiler tests
 * pin its refusal). The process is never restarted; its
 * output must equal the recorded outputs of the version it is patched to, the worker must see
 * only recorded outputs (but for one transitional call per patch event, see checkWorker),
 * and it must exit cleanly at the end (a crash fails the test).
 * Series: the cumulative packages of each step are applied in turn, each superseding the last.
 * Refusals: a package for another build, a module that is not loaded and a tampered package
 * change nothing and the process keeps running.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openWin32Backend } from '../runtime/backends/win32-agent.ts';
import { parsePe } from '../runtime/pe/parse-pe.ts';
import { endHosts, fnv1a, startHost, type HostSession, type WorkerOutput } from '../samples/host/host-session.ts';
import { missingTools } from './support/tools.ts';
import { expectationOf, readScenarios } from '../samples/scenarios.ts';
import { keepWineServer, wineEnv } from './support/wine.ts';
import { runHotpatchAsync, type CliRun } from './support/cli.ts';

const skip = missingTools(['wine']);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Step {
  readonly from: string;
  readonly to: string;
}
interface Scenario {
  readonly name: string;
  readonly versions: readonly string[];
  readonly expect: 'hotpatchable' | 'refused';
  readonly steps: readonly Step[];
  readonly safeWith?: readonly unknown[];
}
// Hotpatchable scenarios, and must-refuse ones with a build that is not (`safeWith`: only that build runs).
const scenarios = (JSON.parse(readFileSync(join(ROOT, 'samples/scenarios.json'), 'utf8')) as Scenario[]).filter((s) => s.expect === 'hotpatchable' || (s.safeWith?.length ?? 0) > 0);
const dll = (scenario: string, v: string, variant: string): string => join(ROOT, 'samples/bin', scenario, `${v}${variant}.dll`);
const expected = (scenario: string, v: string): string => readFileSync(join(ROOT, 'samples', scenario, 'expected', `${v}.txt`), 'utf8');

/** Runs the CLI without blocking the event loop (the Wine host's pipes must keep flowing). */
const hotpatch = (args: readonly string[]): Promise<CliRun> => runHotpatchAsync(args, wineEnv());

async function must(args: readonly string[]): Promise<string> {
  const r = await hotpatch(args);
  if (r.status !== 0) throw new Error(`hotpatch ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

let dir = '';
let key = '';
let pub = '';

/**
 * Cases known to fail live, with the reason. A listed case must still fail: when it starts
 * passing, its test fails until the entry is removed, so this list can only shrink.
 */
const KNOWN_FAILURES: Readonly<Record<string, string>> = {};

const hosts: HostSession[] = [];
let mayCrash = false;
afterEach(async () => {
  const codes = await endHosts(hosts);
  const crashAllowed = mayCrash;
  mayCrash = false;
  if (!crashAllowed) for (const code of codes) expect(code, 'the host must survive and exit cleanly').toBe(0);
});

async function host(path: string): Promise<HostSession> {
  const h = await startHost(path, { worker: true });
  if (!h.ok) throw new Error(h.error.message);
  hosts.push(h.value);
  return h.value;
}

async function round(h: HostSession): Promise<{ output: string; outputs: readonly WorkerOutput[]; errors: number }> {
  const r = await h.run();
  if (!r.ok) throw new Error(r.error.message);
  expect(r.value.error).toBeUndefined();
  return { output: r.value.output, outputs: r.value.worker?.outputs ?? [], errors: r.value.worker?.errors ?? -1 };
}

/**
 * The worker's outputs are recorded ones, except at most one call per patch event (`events`
 * applies and reverts so far): the hp_run call in flight while the redirects were written may
 * run old code for some vectors and new code for later ones. So at most `events` calls may
 * have produced an unrecorded output; a wrong output that persists (more calls) fails.
 */
function checkWorker(outputs: readonly WorkerOutput[], allowed: ReadonlySet<number>, events: number): void {
  const others = outputs.filter((o) => !allowed.has(o.fnv1a));
  const calls = others.reduce((n, o) => n + o.calls, 0);
  expect(calls, 'worker calls whose output no version produces (one in-flight call per patch event at most)').toBeLessThanOrEqual(events);
}

/** Builds the package for step `k` of a scenario: cumulative from the baseline, as a series is. */
async function build(s: Scenario, k: number, variant: string): Promise<string> {
  const step = s.steps[k]!;
  const out = join(dir, `${s.name}${variant}-${k + 1}.hpk`);
  const series = s.steps.length > 1 ? ['--baseline', `${s.name}-${s.steps[0]!.from}`, '--sequence', String(k + 1)] : [];
  await must(['build', dll(s.name, s.steps[0]!.from, variant), dll(s.name, step.to, variant), '-o', out, '--key', key, ...series]);
  return out;
}

/** Builds the scenario's packages, then live-applies each to one running host and reverts (see the module comment). */
async function liveRoundTrip(s: Scenario, variant: string): Promise<void> {
  const baseline = s.steps[0]!.from;
  const packages: string[] = [];
  for (let k = 0; k < s.steps.length; k++) packages.push(await build(s, k, variant));
  const module = `${baseline}${variant}.dll`;
  const h = await host(dll(s.name, baseline, variant));
  expect(h.first.output).toBe(expected(s.name, baseline));
  const before = await moduleBytes(h.windowsPid, module);
  const allowed = new Set(s.versions.map((v) => fnv1a(expected(s.name, v))));

  let lastSequence = -1;
  for (const [k, pkg] of packages.entries()) {
    const out = await must(['live', pkg, '--pid', String(h.windowsPid), '--module', module, '--trust', pub, '--json']);
    const j = JSON.parse(out) as { series: { sequence: number }; supersedes: number | null; timing: { pauseUs: number; totalMs: number } };
    expect(j.timing.pauseUs).toBeGreaterThan(0);
    expect(j.timing.totalMs).toBeGreaterThan(j.timing.pauseUs / 1000);
    if (packages.length > 1) expect(j.supersedes).toBe(k === 0 ? null : k);
    lastSequence = j.series.sequence;
    const r = await round(h);
    expect(r.output).toBe(expected(s.name, s.steps[k]!.to));
    expect(r.errors).toBe(0);
    checkWorker(r.outputs, allowed, k + 1);
  }
  const rv = await must(['revert', '--pid', String(h.windowsPid), '--module', module, '--json']);
  expect((JSON.parse(rv) as { series: { sequence: number } }).series.sequence).toBe(lastSequence);
  const r = await round(h);
  expect(r.output).toBe(expected(s.name, baseline));
  expect(r.errors).toBe(0);
  checkWorker(r.outputs, allowed, packages.length + 1);
  // The program owns its writable sections (data-writes rewrites .data on every call): revert
  // must restore everything else, byte for byte.
  const dllBytes = new Uint8Array(readFileSync(dll(s.name, baseline, variant)));
  const after = await moduleBytes(h.windowsPid, module);
  expect(withoutWritable(after, dllBytes).equals(withoutWritable(before, dllBytes)), 'revert leaves the module byte-identical outside its writable sections').toBe(true);
}

const IMAGE_SCN_MEM_WRITE = 0x8000_0000;

/** `mapped` with the module's writable sections zeroed (section headers read from its file). */
function withoutWritable(mapped: Buffer, file: Uint8Array): Buffer {
  const pe = parsePe(file);
  if (!pe.ok) throw new Error(pe.error.message);
  const out = Buffer.from(mapped);
  for (const sec of pe.value.sections) {
    if ((sec.characteristics & IMAGE_SCN_MEM_WRITE) === 0) continue;
    const start = sec.virtualAddress as number;
    out.fill(0, start, Math.min(out.length, start + Math.max(sec.virtualSize, sec.sizeOfRawData)));
  }
  return out;
}

/** The module's mapped bytes in the live process (SizeOfImage, through the agent). */
async function moduleBytes(pid: number, module: string): Promise<Buffer> {
  const b = await openWin32Backend({ pid, module, env: wineEnv() });
  if (!b.ok) throw new Error(b.error.message);
  const bytes = await b.value.read(b.value.module.base, b.value.module.sizeOfImage);
  await b.value.close();
  if (!bytes.ok) throw new Error(bytes.error.message);
  return Buffer.from(bytes.value);
}

describe.skipIf(skip !== undefined)(`hotpatch live end to end under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(async () => {
    keepWineServer(); // later Wine starts take ~0.1 s; it ends by itself
    dir = mkdtempSync(join(tmpdir(), 'hp-live-e2e-'));
    await must(['keygen', '--out', dir]);
    key = join(dir, 'hotpatch.key');
    pub = join(dir, 'hotpatch.pub');
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const sampleScenarios = readScenarios();
  /** True when a step of `s` is refused for the build `variant` names (a known miss, or not a `safeWith` build). */
  const missed = (s: Scenario, variant: string): boolean => {
    const full = sampleScenarios.find((x) => x.name === s.name)!;
    return full.steps.some((st) => expectationOf(full, st, variant.includes('clang') ? 'clang' : 'gcc', variant.includes('stripped')).expect !== 'hotpatchable');
  };
  for (const s of scenarios)
    for (const variant of ['', '.stripped', '.clang', '.clang.stripped']) {
      if (missed(s, variant)) continue;
      const known = KNOWN_FAILURES[`${s.name}${variant}`];
      test(`${s.name}${variant}: live ${s.steps.map((st) => st.to).join(' -> ')}, revert to ${s.steps[0]!.from}${known ? ' (known failure)' : ''}`, async () => {
        if (known === undefined) return liveRoundTrip(s, variant);
        mayCrash = true;
        await expect(liveRoundTrip(s, variant), `now passes: remove ${s.name}${variant} from KNOWN_FAILURES`).rejects.toThrow();
      }, 240_000); // several CLI runs and a Wine host on a loaded machine
    }

  test('refused live applies change nothing and the process keeps running', async () => {
    const logic = scenarios.find((s) => s.name === 'logic-fix')!;
    const pkg = await build(logic, 0, '');
    const h = await host(dll('new-helper', 'v1', ''));
    const snapshot = (): Promise<Buffer> => moduleBytes(h.windowsPid, 'v1.dll');
    const before = await snapshot();

    const other = await hotpatch(['live', pkg, '--pid', String(h.windowsPid), '--module', 'v1.dll', '--trust', pub]);
    expect(other.status).toBe(40);
    expect(other.stderr).toMatch(/^hotpatch: PLAN_IDENTITY: package is for another build: .*\n$/);

    const notLoaded = await hotpatch(['live', pkg, '--pid', String(h.windowsPid), '--module', 'v2.dll', '--trust', pub]);
    expect(notLoaded.status).toBe(50);
    expect(notLoaded.stderr).toMatch(/^hotpatch: LIVE_MODULE_NOT_FOUND: module v2\.dll is not loaded in process \d+\n$/);

    const bytes = readFileSync(pkg);
    bytes[bytes.length >> 1]! ^= 0x01;
    const tampered = join(dir, 'tampered.hpk');
    writeFileSync(tampered, bytes);
    const t = await hotpatch(['live', tampered, '--pid', String(h.windowsPid), '--module', 'v1.dll', '--trust', pub]);
    expect(t.status).not.toBe(0);
    expect(t.stderr).toMatch(/^hotpatch: (SIG|PKG)_[A-Z_]+: .*\n$/);

    expect((await snapshot()).equals(before)).toBe(true);
    const r = await round(h);
    expect(r.output).toBe(expected('new-helper', 'v1'));
    expect(r.errors).toBe(0);
  }, 240_000);
});
