/**
 * A Go program under Wine, never killed by a hotpatch: esbuild 0.25.11 runs in
 * `--watch=forever` mode (a long-running process that rebuilds when its input changes).
 * Live-patching it to 0.25.12 once crashed it ("fatal error: runtime: name offset base
 * pointer out of range": the Go runtime met a PC outside its pclntab). Now the build is
 * refused with a reason naming the Go runtime, so no package exists to apply, and the
 * process keeps rebuilding: its output follows a change of its input after the refusal.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fetchRealFile, realPairs } from '../../samples/real/real-files.ts';
import { runHotpatchAsync } from '../support/cli.ts';
import { startWineToFiles, waitFor, type WineProcess } from '../support/real-live.ts';
import { missingTools } from '../support/tools.ts';

const pair = realPairs().find((p) => p.label.startsWith('esbuild-'));
const o = pair === undefined ? null : fetchRealFile(pair.old);
const n = pair === undefined ? null : fetchRealFile(pair.new);
const skip = missingTools(['mingw', 'wine']) ?? (o === null || !o.ok || n === null || !n.ok ? 'corpus esbuild pair unavailable' : undefined);

describe.skipIf(skip !== undefined)(`esbuild --watch=forever under Wine${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'hotpatch-esbuild-watch-'));
  let proc: WineProcess | null = null;
  afterAll(async () => {
    await proc?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the build is refused naming the Go runtime, and the running process keeps rebuilding', async () => {
    const oldExe = (o as { value: string }).value;
    const newExe = (n as { value: string }).value;
    const outJs = join(dir, 'out.js');
    writeFileSync(join(dir, 'in.js'), 'export const answer = 40 + 1;\n');
    proc = startWineToFiles(oldExe, ['in.js', '--outfile=out.js', '--watch=forever'], dir, 'esbuild');
    await waitFor('the first build', 90_000, () => (existsSync(outJs) && readFileSync(outJs, 'utf8').includes('40 + 1') ? true : proc!.alive() ? undefined : (() => { throw new Error(`esbuild exited: ${proc!.stderr()}`); })()));

    const built = await runHotpatchAsync(['build', oldExe, newExe, '-o', join(dir, 'p.hpk'), '--unsigned', '--skip-refused']);
    expect(built.status).toBe(31);
    expect(built.stderr).toMatch(/^hotpatch: BUILD_RUNTIME_TABLES: OLD is built on the Go go1\.\d+\S* runtime \(pclntab header/);
    expect(existsSync(join(dir, 'p.hpk'))).toBe(false);

    // Still alive and still rebuilding.
    expect(proc.alive()).toBe(true);
    writeFileSync(join(dir, 'in.js'), 'export const answer = 41 + 1;\n');
    await waitFor('a rebuild after the refusal', 60_000, () => (readFileSync(outJs, 'utf8').includes('41 + 1') ? true : undefined));
    expect(proc.alive()).toBe(true);
    expect(proc.stderr()).not.toMatch(/fatal error|panic/);
  }, 300_000);
});
