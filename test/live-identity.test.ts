/**
 * Live identity rests only on bytes a running program keeps. samples/data-writes/v1.dll
 * rewrites its initialised .data on every call; after several rounds (its worker thread
 * calling all the while) its .data no longer equals the file's, and `hotpatch live` must
 * still accept it, patch it to v2 and revert it. The package relies on no byte of a writable
 * section or IAT. When a relied-on read-only byte does change in memory (a tool wrote over
 * the read-only table mix uses), the refusal names the section, the relied range and the
 * first differing byte, found against the module's file on disk.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPackage, mapImage, readPe } from '../compiler/index.ts';
import { asVa } from '../common/types.ts';
import { openWin32Backend } from '../runtime/backends/win32-agent.ts';
import { PAGE_READONLY, PAGE_READWRITE } from '../runtime/plan/write-plan.ts';
import { endHosts, startHost, type HostSession } from '../samples/host/host-session.ts';
import { runHotpatchAsync, type CliRun } from './support/cli.ts';
import { missingTools } from './support/tools.ts';
import { keepWineServer, wineEnv } from './support/wine.ts';

const skip = missingTools(['wine']);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const v1 = join(ROOT, 'samples/bin/data-writes/v1.dll');
const v2 = join(ROOT, 'samples/bin/data-writes/v2.dll');
const expected = (v: string): string => readFileSync(join(ROOT, 'samples/data-writes/expected', `${v}.txt`), 'utf8');
const hotpatch = (args: readonly string[]): Promise<CliRun> => runHotpatchAsync(args, wineEnv());

describe.skipIf(skip !== undefined)(`live identity on a program that writes its .data${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let dir = '';
  const hosts: HostSession[] = [];
  beforeAll(async () => {
    keepWineServer();
    dir = mkdtempSync(join(tmpdir(), 'hp-live-identity-'));
    expect((await hotpatch(['keygen', '--out', dir])).status).toBe(0);
    expect((await hotpatch(['build', v1, v2, '-o', join(dir, 'p.hpk'), '--key', join(dir, 'hotpatch.key')])).status).toBe(0);
  });
  afterAll(async () => {
    for (const code of await endHosts(hosts)) expect(code).toBe(0);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the package relies on no writable byte, though mix reads and writes .data', () => {
    const ob = new Uint8Array(readFileSync(v1));
    const built = buildPackage(ob, new Uint8Array(readFileSync(v2)), { moduleName: 'v1.dll', skipRefused: false, series: null, compilerVersion: 'test' });
    if (!built.ok) throw new Error(built.error.message);
    const pe = readPe(ob);
    if (!pe.ok) throw new Error(pe.error.message);
    const img = mapImage(ob, pe.value.pe);
    if (!img.ok) throw new Error(img.error.message);
    const writable = img.value.sections.filter((s) => s.writable);
    expect(writable.map((s) => s.name)).toContain('.data');
    const relied = built.value.emitted.pkg.target.reliedRanges;
    expect(relied.length).toBeGreaterThan(0);
    for (const r of relied) {
      for (const s of writable) expect(r.rva + r.length <= s.rva || r.rva >= s.rva + s.size, `relied ${r.rva}+${r.length} in ${s.name}`).toBe(true);
      for (const slot of img.value.iat.keys()) expect(r.rva + r.length <= slot || r.rva >= slot + 8).toBe(true);
    }
    // It does rely on the read-only table mix reads (the mismatch test below changes it).
    const rdata = img.value.sections.find((s) => s.name === '.rdata')!;
    expect(relied.some((r) => r.rva >= rdata.rva && r.rva < rdata.rva + rdata.size)).toBe(true);
  });

  test('after rounds that rewrite .data, live apply and revert succeed; a changed read-only byte is named', async () => {
    const h0 = await startHost(v1, { worker: true });
    if (!h0.ok) throw new Error(h0.error.message);
    const h = h0.value;
    hosts.push(h);
    for (let i = 0; i < 3; i++) expect((await h.run()).ok).toBe(true);

    // .data in memory differs from the file's now: the premise of the test.
    const b = await openWin32Backend({ pid: h.windowsPid, module: 'v1.dll', env: wineEnv() });
    if (!b.ok) throw new Error(b.error.message);
    const ob = new Uint8Array(readFileSync(v1));
    const pe = readPe(ob);
    if (!pe.ok) throw new Error(pe.error.message);
    const img = mapImage(ob, pe.value.pe);
    if (!img.ok) throw new Error(img.error.message);
    const data = img.value.sections.find((s) => s.name === '.data')!;
    const live = await b.value.read(asVa(b.value.module.base + BigInt(data.rva)), data.size);
    if (!live.ok) throw new Error(live.error.message);
    expect(Buffer.from(live.value).equals(Buffer.from(img.value.image.subarray(data.rva, data.rva + data.size)))).toBe(false);
    await b.value.close();

    const pub = join(dir, 'hotpatch.pub');
    const applied = await hotpatch(['live', join(dir, 'p.hpk'), '--pid', String(h.windowsPid), '--module', 'v1.dll', '--trust', pub]);
    expect(applied.stderr).toBe('');
    expect(applied.status).toBe(0);
    const r2 = await h.run();
    expect(r2.ok && r2.value.output).toBe(expected('v2'));
    expect((await hotpatch(['revert', '--pid', String(h.windowsPid), '--module', 'v1.dll'])).status).toBe(0);
    const r1 = await h.run();
    expect(r1.ok && r1.value.output).toBe(expected('v1'));

    // A tool changes one byte of the read-only table mix reads: the refusal points at it.
    const rdata = img.value.sections.find((s) => s.name === '.rdata')!;
    const built = buildPackage(ob, new Uint8Array(readFileSync(v2)), { moduleName: 'v1.dll', skipRefused: false, series: null, compilerVersion: 'test' });
    if (!built.ok) throw new Error(built.error.message);
    const range = built.value.emitted.pkg.target.reliedRanges.find((r) => r.rva >= rdata.rva && r.rva < rdata.rva + rdata.size)!;
    const victim = range.rva + Math.min(2, range.length - 1);
    const c = await openWin32Backend({ pid: h.windowsPid, module: 'v1.dll', env: wineEnv() });
    if (!c.ok) throw new Error(c.error.message);
    const at = asVa(c.value.module.base + BigInt(victim));
    const page = asVa(at & ~0xfffn);
    const old = await c.value.read(at, 1);
    if (!old.ok) throw new Error(old.error.message);
    for (const step of [
      { op: 'protect', address: page, size: 0x1000, protection: PAGE_READWRITE },
      { op: 'write', address: at, bytes: new Uint8Array([old.value[0]! ^ 0x5a]) },
      { op: 'protect', address: page, size: 0x1000, protection: PAGE_READONLY },
    ] as const) {
      const r = await c.value.execute(step);
      if (!r.ok) throw new Error(r.error.message);
    }
    expect((await c.value.close()).ok).toBe(true);
    const refused = await hotpatch(['live', join(dir, 'p.hpk'), '--pid', String(h.windowsPid), '--module', 'v1.dll', '--trust', pub]);
    expect(refused.status).toBe(40);
    const hexOf = (n: number): string => `0x${n.toString(16)}`;
    expect(refused.stderr).toContain('hotpatch: PLAN_IDENTITY: package is for another build: relied-on bytes hash');
    expect(refused.stderr).toContain(`first difference in section .rdata, relied range ${hexOf(range.rva)}+${range.length}, at RVA ${hexOf(victim)} (offset ${victim - range.rva} in the range): image has 0x${(old.value[0]! ^ 0x5a).toString(16).padStart(2, '0')}, the package's build has 0x${old.value[0]!.toString(16).padStart(2, '0')}`);
    expect((await h.run()).ok).toBe(true); // still running
  }, 240_000);
});
