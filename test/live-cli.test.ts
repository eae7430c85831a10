/**
 * The `hotpatch revert` (and `hotpatch live`) command lines against a real host process under
 * Wine: exit codes, one-line errors, JSON fields, and that a revert run as a separate command
 * finds what an earlier apply left in the process (its state record).
 */
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { encodePackage } from '../formats/container.ts';
import { generateKeyPair } from '../formats/keys.ts';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildHandPackage } from '../runtime/apply/testing/hand-package.ts';
import { openWin32Backend } from '../runtime/backends/win32-agent.ts';
import { applyLive } from '../runtime/backends/win32-agent/live.ts';
import { endHosts, startHost, type HostSession } from '../samples/host/host-session.ts';
import { missingTools } from './support/tools.ts';
import { keepWineServer, wineEnv } from './support/wine.ts';
import { runHotpatchAsync, type CliRun } from './support/cli.ts';

const skip = missingTools(['wine']);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dll = (scenario: string, v: string): string => join(ROOT, 'samples/bin', scenario, `${v}.dll`);
const expected = (scenario: string, v: string): string => readFileSync(join(ROOT, 'samples', scenario, 'expected', `${v}.txt`), 'utf8');

/** Runs the CLI (asynchronously: the Wine host must keep being served meanwhile). */
const hotpatch = (args: readonly string[]): Promise<CliRun> => runHotpatchAsync(args, wineEnv());

const hosts: HostSession[] = [];
afterEach(async () => {
  for (const code of await endHosts(hosts)) expect(code).toBe(0);
});

async function host(scenario: string): Promise<HostSession> {
  const h = await startHost(dll(scenario, 'v1'), { worker: true });
  if (!h.ok) throw new Error(h.error.message);
  hosts.push(h.value);
  return h.value;
}

async function output(h: HostSession): Promise<string> {
  const r = await h.run();
  if (!r.ok) throw new Error(r.error.message);
  return r.value.output;
}

describe.skipIf(skip !== undefined)(`hotpatch revert / live command lines under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(() => {
    keepWineServer(); // later Wine starts take ~0.1 s; it ends by itself
  });

  test('revert as a separate command undoes an apply made by another session', async () => {
    const h = await host('logic-fix');
    const b = await openWin32Backend({ pid: h.windowsPid, module: 'v1.dll', env: wineEnv() });
    if (!b.ok) throw new Error(b.error.message);
    const pkg = buildHandPackage(new Uint8Array(readFileSync(dll('logic-fix', 'v1'))), new Uint8Array(readFileSync(dll('logic-fix', 'v2'))), { changed: ['sum_first'] });
    const a = await applyLive(pkg, b.value);
    if (!a.ok) throw new Error(a.error.message);
    expect((await b.value.close()).ok).toBe(true);
    expect(await output(h)).toBe(expected('logic-fix', 'v2'));

    const r = await hotpatch(['revert', '--pid', String(h.windowsPid), '--module', 'v1.dll', '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { pid: number; module: string; series: { sequence: number }; pauseUs: number; totalMs: number; keptRegions: string[]; freedRegions: number };
    expect(j.pid).toBe(h.windowsPid);
    expect(j.module.toLowerCase()).toBe('v1.dll');
    expect(j.series.sequence).toBe(1);
    expect(j.pauseUs).toBeGreaterThan(0);
    expect(j.totalMs).toBeGreaterThan(j.pauseUs / 1000);
    expect(j.freedRegions + j.keptRegions.length).toBe(2); // the patch region and the state record
    expect(await output(h)).toBe(expected('logic-fix', 'v1'));

    const again = await hotpatch(['revert', '--pid', String(h.windowsPid), '--module', 'v1.dll']);
    expect(again.status).toBe(42);
    expect(again.stderr).toMatch(/^hotpatch: REVERT_NOTHING_APPLIED: no hotpatch is applied to v1\.dll in process \d+\n$/);
  });

  test('hotpatch live with a signed package: text and JSON reports, module found by identity, revert without --module', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hp-live-cli-'));
    const keys = await generateKeyPair();
    const other = await generateKeyPair();
    writeFileSync(join(dir, 'hotpatch.pub'), keys.publicPem);
    writeFileSync(join(dir, 'other.pub'), other.publicPem);
    const pkg = buildHandPackage(new Uint8Array(readFileSync(dll('series', 'v1'))), new Uint8Array(readFileSync(dll('series', 'v2'))), { changed: ['word_count'], baseline: 'series-v1', sequence: 1 });
    const encoded = await encodePackage(pkg, { signingKey: keys.signingKey });
    if (!encoded.ok) throw new Error(encoded.error.message);
    const hpk = join(dir, 'series-1.hpk');
    writeFileSync(hpk, encoded.value);
    const h = await host('series');
    const pid = String(h.windowsPid);

    const noTrust = await hotpatch(['live', hpk, '--pid', pid]);
    expect(noTrust.status).toBe(2);
    expect(noTrust.stderr).toMatch(/^hotpatch: USAGE_TRUST: give --trust PUB .* or --allow-unsigned\n$/);
    const wrongKey = await hotpatch(['live', hpk, '--pid', pid, '--trust', join(dir, 'other.pub')]);
    expect(wrongKey.status).toBe(21);
    expect(wrongKey.stderr).toMatch(/^hotpatch: SIG_[A-Z_]+: /);
    expect(await output(h)).toBe(expected('series', 'v1'));

    // No --module: the one loaded module whose identity matches the package is patched.
    const text = await hotpatch(['live', hpk, '--pid', pid, '--trust', join(dir, 'hotpatch.pub')]);
    expect(text.stderr).toBe('');
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/^applied series "series-v1" sequence 1 to v1\.dll at 0x[0-9a-f]+ in process \d+\n/);
    expect(text.stdout).toMatch(/\n {2}changed word_count 0x[0-9a-f]+ -> 0x[0-9a-f]+ \(\d+ bytes\)\n/);
    expect(text.stdout).toMatch(/\nsignature: verified \(key [0-9a-f]{16}\)\n/);
    expect(text.stdout).toMatch(/\npause \d+\.\d\d ms \(threads suspended\), plan [\d.]+ ms, execute [\d.]+ ms, total [\d.]+ ms\n/);
    expect(await output(h)).toBe(expected('series', 'v2'));

    // The same package again is refused (not newer than what is applied); nothing changes.
    const same = await hotpatch(['live', hpk, '--pid', pid, '--module', 'v1.dll', '--trust', join(dir, 'hotpatch.pub'), '--json']);
    expect(same.status).toBe(40);
    expect((JSON.parse(same.stdout) as { error: { code: string } }).error.code).toBe('PLAN_SEQUENCE');
    expect(await output(h)).toBe(expected('series', 'v2'));

    const rv = await hotpatch(['revert', '--pid', pid]);
    expect(rv.status).toBe(0);
    expect(rv.stdout).toMatch(/^reverted series "series-v1" sequence 1 on v1\.dll at 0x[0-9a-f]+ in process \d+: 1 redirect\(s\) removed\npause [\d.]+ ms/);
    expect(await output(h)).toBe(expected('series', 'v1'));
    const none = await hotpatch(['revert', '--pid', pid]);
    expect(none.status).toBe(42);
    expect(none.stderr).toMatch(/^hotpatch: REVERT_NOTHING_APPLIED: no hotpatch is applied in process \d+\n$/);
    rmSync(dir, { recursive: true, force: true });
  });

  test('an unsigned package needs --allow-unsigned', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hp-live-cli-'));
    const hpk = join(dir, 'logic-fix.hpk');
    const b = await hotpatch(['build', dll('logic-fix', 'v1'), dll('logic-fix', 'v2'), '-o', hpk, '--unsigned']);
    expect(b.status).toBe(0);
    const h = await host('logic-fix');
    const pid = String(h.windowsPid);
    writeFileSync(join(dir, 'k.pub'), (await generateKeyPair()).publicPem);
    const refused = await hotpatch(['live', hpk, '--pid', pid, '--trust', join(dir, 'k.pub')]);
    expect(refused.status).toBe(21);
    expect(refused.stderr).toMatch(/^hotpatch: SIG_[A-Z_]+: .*\n$/);
    expect(await output(h)).toBe(expected('logic-fix', 'v1'));
    const ok = await hotpatch(['live', hpk, '--pid', pid, '--allow-unsigned', '--json']);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect((JSON.parse(ok.stdout) as { signature: unknown }).signature).toEqual({ status: 'unsigned' });
    expect(await output(h)).toBe(expected('logic-fix', 'v2'));
    expect((await hotpatch(['revert', '--pid', pid])).status).toBe(0);
    expect(await output(h)).toBe(expected('logic-fix', 'v1'));
    rmSync(dir, { recursive: true, force: true });
  });

  test('bad targets are one-line errors with the stage exit code, and the process keeps running', async () => {
    const h = await host('new-helper');
    const notLoaded = await hotpatch(['revert', '--pid', String(h.windowsPid), '--module', 'v2.dll']);
    expect(notLoaded.status).toBe(50);
    expect(notLoaded.stderr).toMatch(/^hotpatch: LIVE_MODULE_NOT_FOUND: module v2\.dll is not loaded in process \d+\n$/);
    const noProcess = await hotpatch(['revert', '--pid', '999999', '--module', 'v1.dll', '--json']);
    expect(noProcess.status).toBe(50);
    expect((JSON.parse(noProcess.stdout) as { error: { code: string } }).error.code).toBe('LIVE_OPEN_FAILED');
    const badPid = await hotpatch(['revert', '--pid', '-3', '--module', 'v1.dll']);
    expect(badPid.status).toBe(2);
    expect(badPid.stderr).toMatch(/^hotpatch: USAGE_PID: /);
    expect(await output(h)).toBe(expected('new-helper', 'v1'));
  });
});
