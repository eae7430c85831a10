/**
 * Test support for the live tests that run a sample DLL in samples/bin/host.exe under Wine and
 * patch it with `hotpatch live` (test/quiesce-live.test.ts, live-ipra.test.ts,
 * entry-args-live.test.ts, entry-args-roles-live.test.ts, entry-args-stack-live.test.ts,
 * quiesce-recursion-live.test.ts, revert-live.test.ts): the sample paths, the suite's
 * hooks (a kept wineserver, a temp folder, every host ended after each test and required to
 * exit 0) and the `hotpatch live` run they share.
 */
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { endHosts, startHost, type HostOptions, type HostSession } from '../../samples/host/host-session.ts';
import { expectedOutputPath, SAMPLES_BIN_DIR, type SampleVersion } from '../../samples/scenarios.ts';
import { runHotpatchAsync, type CliRun } from './cli.ts';
import { keepWineServer, wineEnv } from './wine.ts';

/** A scenario's built DLL; `variant` is '' (gcc with symbols), '.clang', '.stripped' or '.clang.stripped'. */
export function sampleDll(scenario: string, version: SampleVersion, variant = ''): string {
  return join(SAMPLES_BIN_DIR, scenario, `${version}${variant}.dll`);
}

/** The recorded hp_run output of a scenario version (throws when it is not recorded). */
export function expectedOutput(scenario: string, version: SampleVersion): string {
  return readFileSync(expectedOutputPath(scenario, version), 'utf8');
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What a live suite's tests share: its temp folder and the hosts they started. */
export interface LiveSuite {
  /** The suite's temp folder (set in beforeAll). */
  readonly dir: () => string;
  /** Starts host.exe on `dll` (throws on failure); the host is ended after the test, and must exit 0. */
  readonly start: (dll: string, opts?: HostOptions) => Promise<HostSession>;
}

/**
 * Registers the hooks of a live test file, unless `skip` (missingTools' reason) says its
 * tests are skipped: beforeAll keeps a wineserver running and makes a temp folder named after
 * `prefix`; afterAll removes the folder; afterEach ends every host the test started and
 * expects each to exit cleanly (code 0).
 */
export function liveSuite(prefix: string, skip: string | undefined): LiveSuite {
  let dir = '';
  const hosts: HostSession[] = [];
  const start = async (dll: string, opts: HostOptions = {}): Promise<HostSession> => {
    const h = await startHost(dll, opts);
    if (!h.ok) throw new Error(h.error.message);
    hosts.push(h.value);
    return h.value;
  };
  if (skip !== undefined) return { dir: () => dir, start };
  beforeAll(() => {
    keepWineServer();
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    for (const code of await endHosts(hosts.splice(0))) expect(code, 'the host must survive and exit cleanly').toBe(0);
  });
  return { dir: () => dir, start };
}

/** `hotpatch live PKG --pid PID --module MODULE --allow-unsigned --json` into the host, under Wine's environment. */
export function applyLive(pkg: string, h: HostSession, module: string): Promise<CliRun> {
  return runHotpatchAsync(['live', pkg, '--pid', String(h.windowsPid), '--module', module, '--allow-unsigned', '--json'], wineEnv());
}

/** Applies `pkg` live to `h` (its DLL file `module`), then runs round 2 and returns its output. */
export async function patchedRound(h: HostSession, pkg: string, module: string): Promise<string> {
  const live = await applyLive(pkg, h, module);
  expect(live.status, live.stderr).toBe(0);
  const r = await h.run();
  if (!r.ok) throw new Error(r.error.message);
  expect(r.value.error).toBeUndefined();
  return r.value.output;
}
