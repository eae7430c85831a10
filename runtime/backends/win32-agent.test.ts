/**
 * The agent's primitives against a real Windows process under Wine: a small target
 * (win32-agent/test-target, built here with mingw-w64) loads probe.dll and, with --worker,
 * calls `value` in a loop while the tests allocate, write, protect, suspend, redirect,
 * register unwind data and roll back through the same ProcessBackend the executor uses.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { getPriority, setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { asVa, type Va } from '../../common/types.ts';
import { missingTools } from '../../test/support/tools.ts';
import { expectedAgentIo, keepWineServer, startWine, wineEnv } from '../../test/support/wine.ts';
import { PAGE_EXECUTE_READ, PAGE_EXECUTE_READWRITE, PAGE_READWRITE, undoOf, type StepObservation, type WriteStep } from '../plan/write-plan.ts';
import { AGENT_EXE, openWin32Backend, startAgent, type Win32AgentBackend } from './win32-agent.ts';
import { executeSteps } from '../apply/execute-plan.ts';
import { buildTargets, startTarget as startTargetIn, targetLinuxPid, tasksOf, type Target, wineServerLinuxPid, workerProgresses } from '../../test/support/win32-target.ts';

const skip = missingTools(['mingw', 'wine']);



let dir = '';
const startTarget = (worker: boolean, exe?: string): Promise<Target> => startTargetIn(dir, worker, exe);



/** The bytes of probe.dll's `value` as the file holds them (through the section table). */
function fileBytesAt(rva: number, n: number): Uint8Array {
  const f = readFileSync(join(dir, 'probe.dll'));
  const pe = f.readUInt32LE(0x3c);
  const nsec = f.readUInt16LE(pe + 6);
  const optSize = f.readUInt16LE(pe + 20);
  for (let i = 0; i < nsec; i++) {
    const s = pe + 24 + optSize + 40 * i;
    const va = f.readUInt32LE(s + 12);
    const rawSize = f.readUInt32LE(s + 16);
    const raw = f.readUInt32LE(s + 20);
    if (rva >= va && rva + n <= va + rawSize) return new Uint8Array(f.subarray(raw + rva - va, raw + rva - va + n));
  }
  throw new Error(`rva 0x${rva.toString(16)} not in a section`);
}

/** Executes steps in order, collecting what undo needs; stops at the first failure. */
async function runSteps(b: Win32AgentBackend, steps: readonly WriteStep[]): Promise<{ undo: WriteStep[]; error: string | null }> {
  const undo: WriteStep[] = [];
  for (const s of steps) {
    const r = await b.execute(s);
    if (!r.ok) return { undo, error: r.error.code };
    undo.unshift(...undoOf(s, r.value as StepObservation).reverse());
  }
  return { undo, error: null };
}


/** lea eax, [rcx+2]; ret: value(x) = x + 2 instead of x + 1. */
const NEW_BODY = new Uint8Array([0x8d, 0x41, 0x02, 0xc3]);

function jmpRel32(from: Va, to: Va): Uint8Array {
  const rel = Number(to - (from + 5n));
  const b = new Uint8Array(5);
  b[0] = 0xe9;
  new DataView(b.buffer).setInt32(1, rel, true);
  return b;
}

/** The steps of a one-function patch of `value`, in the order the planner emits them. */
function patchSteps(region: Va, site: Va, expected: Uint8Array): WriteStep[] {
  const pageOfSite = asVa(site & ~0xfffn);
  return [
    { op: 'allocate', address: region, size: 0x1000, protection: PAGE_READWRITE },
    { op: 'write', address: region, bytes: NEW_BODY },
    { op: 'protect', address: region, size: 0x1000, protection: PAGE_EXECUTE_READ },
    { op: 'flush', address: region, size: 0x1000 },
    { op: 'protect', address: pageOfSite, size: 0x1000, protection: PAGE_EXECUTE_READWRITE },
    { op: 'suspend-threads', avoid: [{ start: site, size: 5 }], attempts: 100, retryDelayMs: 1 },
    { op: 'redirect', address: site, expected, bytes: jmpRel32(site, region) },
    { op: 'flush', address: site, size: 5 },
    { op: 'resume-threads' },
    { op: 'protect', address: pageOfSite, size: 0x1000, protection: PAGE_EXECUTE_READ },
  ];
}

describe.skipIf(skip !== undefined)(`win32 agent primitives under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let t: Target;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hp-agent-'));
    buildTargets(dir);
    keepWineServer();
    t = await startTarget(true);
  });

  afterAll(async () => {
    if (t) expect(await t.stop()).toBe(0);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('an agent that exits before it answers hello is started once more; two such exits are one error naming both', async () => {
    // The first start is a process that exits 1 before reading anything, as a Wine start that
    // failed does; the second runs the real agent under Wine.
    const once = join(dir, 'exits-once.sh');
    const marker = join(dir, 'exits-once.started');
    writeFileSync(once, `#!/bin/sh\nif [ ! -e '${marker}' ]; then : > '${marker}'; exit 1; fi\nexec wine '${AGENT_EXE}'\n`, { mode: 0o755 });
    const a = await startAgent({ env: wineEnv(), wine: null, agentPath: once });
    if (!a.ok) throw new Error(a.error.message);
    expect((await a.value.request('hello')).ok).toBe(true);
    await a.value.close();
    const always = join(dir, 'exits-always.sh');
    writeFileSync(always, '#!/bin/sh\nexit 1\n', { mode: 0o755 });
    const b = await startAgent({ env: wineEnv(), wine: null, agentPath: always });
    expect(b.ok ? '' : `${b.error.code}: ${b.error.message}`).toBe(
      'LIVE_AGENT_START: the agent did not start: the agent exited (status 1); started twice, the first time: the agent did not start: the agent exited (status 1)',
    );
  });

  test('malformed requests get one-line LIVE_ errors and the agent keeps serving', async () => {
    const a = await startAgent({ env: wineEnv() });
    if (!a.ok) throw new Error(a.error.message);
    const bad = [
      'frobnicate',
      'read 0x1000 5',
      `open ${t.pid}`,
      'read zz 5',
      'read 0x10 99999999999',
      'write 0x1000 abc',
      'redirect 0x1000 9090 90',
      'suspend avoid:nope',
      'call 1 2',
      'commit',
      'resume',
      `x${'a'.repeat(200_000)}`,
    ];
    const replies = await a.value.requestMany(bad);
    const codes = replies.map((r) => (r.ok ? 'ok' : r.error.code));
    expect(codes).toEqual([
      'LIVE_BAD_REQUEST',
      'LIVE_NO_PROCESS',
      'ok',
      'LIVE_BAD_REQUEST',
      'LIVE_BAD_REQUEST',
      'LIVE_BAD_REQUEST',
      'LIVE_BAD_REQUEST',
      'LIVE_BAD_REQUEST',
      'LIVE_BAD_REQUEST',
      'LIVE_BAD_REQUEST',
      'LIVE_BAD_REQUEST',
      'LIVE_BAD_REQUEST',
    ]);
    for (const r of replies) if (!r.ok) expect(r.error.message).not.toMatch(/\n/);
    const hello = await a.value.request('hello');
    expect(hello.ok).toBe(true);
    // In a batch, the first failure makes the agent skip (not execute) the rest until `end`.
    const batch = await a.value.requestMany(['batch', `read 0x${t.valueFn.toString(16)} 1`, 'read 0x8 1', `read 0x${t.valueFn.toString(16)} 1`, 'end', `read 0x${t.valueFn.toString(16)} 1`]);
    expect(batch.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(['ok', 'ok', 'LIVE_READ_FAILED', 'LIVE_SKIPPED', 'ok', 'ok']);
    expect(batch[4]?.ok && batch[4].value['failedAt']).toBe(1);
    await a.value.close();
  });

  test('random read-only requests (seeded) never crash the agent or the target', async () => {
    const a = await startAgent({ env: wineEnv() });
    if (!a.ok) throw new Error(a.error.message);
    expect((await a.value.request(`open ${t.pid}`)).ok).toBe(true);
    let seed = 0x2545f491;
    const rnd = (n: number): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const num = (): string => {
      const pick = rnd(6);
      if (pick === 0) return String(rnd(100000));
      if (pick === 1) return `0x${(t.module + BigInt(rnd(0x20000))).toString(16)}`;
      if (pick === 2) return '0xffffffffffffffff';
      if (pick === 3) return `0x${rnd(2 ** 31).toString(16)}${rnd(2 ** 16).toString(16)}`;
      if (pick === 4) return '-1';
      return ['', 'x', '0x', '1e9', 'nan'][rnd(5)]!;
    };
    const ops = ['read', 'query', 'protections', 'find-free', 'find-marker', 'proc', 'module', 'modules', 'expect', 'hello', 'bogus'];
    const lines: string[] = [];
    for (let i = 0; i < 400; i++) {
      const op = ops[rnd(ops.length)]!;
      const args = Array.from({ length: rnd(5) }, () => (op === 'find-marker' || op === 'expect') && rnd(2) === 0 ? 'c3c3' : op === 'proc' || op === 'module' ? ['kernel32.dll', 'Sleep', 'hex:', 'hex:zz', '#1', 'probe.dll'][rnd(6)]! : num());
      lines.push([op, ...args].join(' '));
    }
    const replies = await a.value.requestMany(lines);
    expect(replies.length).toBe(lines.length);
    for (const r of replies) if (!r.ok) expect(r.error.code).toMatch(/^LIVE_[A-Z_]+$/);
    // Not just parse errors: real reads, queries and lookups ran too.
    expect(replies.filter((r) => r.ok).length).toBeGreaterThan(50);
    expect(new Set(replies.map((r) => (r.ok ? 'ok' : r.error.code))).size).toBeGreaterThanOrEqual(4);
    expect((await a.value.request('hello')).ok).toBe(true);
    await a.value.close();
    expect((await t.run())[0]).toBe(2);
    expect(await workerProgresses(t)).toBe(true);
  });

  test('finds the module and reads the code the loader mapped', async () => {
    const b = await openWin32Backend({ pid: t.pid, module: 'probe.dll', env: wineEnv() });
    if (!b.ok) throw new Error(b.error.message);
    try {
      expect(b.value.module.base).toBe(t.module);
      expect(b.value.module.name?.toLowerCase()).toBe('probe.dll');
      const rva = Number(t.valueFn - t.module);
      const live = await b.value.read(t.valueFn, 16);
      expect(live.ok && Array.from(live.value)).toEqual(Array.from(fileBytesAt(rva, 16)));
      const prot = await b.value.queryProtection(t.valueFn, 1);
      expect(prot.ok && prot.value[0]?.protection).toBe(PAGE_EXECUTE_READ);
      // Remote export lookup agrees with the target's own GetProcAddress, forwarders included.
      const v = await b.value.resolveImport('probe.dll', 'value', null);
      expect(v.ok && v.value).toBe(t.valueFn);
      const h = await b.value.resolveImport('kernel32.dll', 'HeapAlloc', null);
      expect(h.ok && h.value).toBe(t.heapAlloc);
      const missing = await b.value.resolveImport('kernel32.dll', 'NoSuchFunctionAnywhere', null);
      expect(!missing.ok && missing.error.code).toBe('PLAN_IMPORT');
      // `alloc` picks the free hole nearest the middle of its window; `expect` compares bytes.
      const lo = t.module - 0x4000_0000n;
      const hi = t.module + 0x4000_0000n;
      const al = await b.value.agent.request(`alloc 0x${lo.toString(16)} 0x${hi.toString(16)} 0x3000 4`);
      if (!al.ok) throw new Error(al.error.message);
      const at = BigInt(al.value['address'] as string);
      expect(at % 0x10000n).toBe(0n);
      expect(at >= lo && at + 0x3000n <= hi).toBe(true);
      expect((await b.value.agent.request(`expect 0x${at.toString(16)} 0000`)).ok).toBe(true);
      const ex = await b.value.agent.request(`expect 0x${t.valueFn.toString(16)} 00`);
      expect(!ex.ok && ex.error.code).toBe('LIVE_BYTES_MISMATCH');
      expect((await b.value.agent.request(`free 0x${at.toString(16)}`)).ok).toBe(true);
      // A window entirely below the module: find-free has to search downward.
      const down = await b.value.agent.request(`find-free 0x${lo.toString(16)} 0x${t.module.toString(16)} 0x3000 0x${t.module.toString(16)}`);
      if (!down.ok) throw new Error(down.error.message);
      const d = BigInt(down.value['address'] as string);
      expect(d % 0x10000n).toBe(0n);
      expect(d >= lo && d + 0x3000n <= t.module).toBe(true);
      const dq = await b.value.agent.request(`protections 0x${d.toString(16)} 0x3000`);
      expect(dq.ok && (dq.value['runs'] as { state: string }[]).every((r) => r.state === 'free')).toBe(true);
    } finally {
      await b.value.close();
    }
  });

  test('refuses a missing module, a missing process and a bad module name with clear errors', async () => {
    const m = await openWin32Backend({ pid: t.pid, module: 'not-loaded.dll', env: wineEnv() });
    expect(!m.ok && m.error.code).toBe('LIVE_MODULE_NOT_FOUND');
    expect(!m.ok && m.error.message).toMatch(/not-loaded\.dll is not loaded in process \d+/);
    const p = await openWin32Backend({ pid: 999_999, module: 'probe.dll', env: wineEnv() });
    expect(!p.ok && p.error.code).toBe('LIVE_OPEN_FAILED');
    expect(!p.ok && p.error.message).toMatch(/same WINEPREFIX/);
    const n = await openWin32Backend({ pid: t.pid, module: 'dir\\a.dll', env: wineEnv() });
    expect(!n.ok && n.error.code).toBe('USAGE_MODULE');
    // Names with spaces travel hex-encoded and come back decoded in the message.
    const sp = await openWin32Backend({ pid: t.pid, module: 'my probe.dll', env: wineEnv() });
    expect(!sp.ok && sp.error.message).toMatch(/^module my probe\.dll is not loaded in process \d+/);
    const [value] = await t.run();
    expect(value).toBe(2);
  });

  test('patches a function while a worker calls it, then undoes the patch to the original bytes', async () => {
    const b = await openWin32Backend({ pid: t.pid, module: 'probe.dll', env: wineEnv() });
    if (!b.ok) throw new Error(b.error.message);
    const be = b.value;
    const original = await be.read(t.valueFn, 5);
    if (!original.ok) throw new Error(original.error.message);
    const region = await be.findFreeRegion({ start: be.module.base, size: be.module.sizeOfImage }, 0x1000);
    if (!region.ok) throw new Error(region.error.message);
    // Within rel32 reach of every byte of the image, and 64K aligned.
    expect(region.value % 0x10000n).toBe(0n);
    const reach = region.value > be.module.base ? region.value + 0x1000n - be.module.base : be.module.base + BigInt(be.module.sizeOfImage) - region.value;
    expect(reach < 0x8000_0000n).toBe(true);

    const [before, callsBefore] = await t.run();
    expect(before).toBe(2);
    const applied = await runSteps(be, patchSteps(region.value, t.valueFn, original.value));
    expect(applied.error).toBeNull();
    expect(be.pauses.length).toBe(1);
    expect(be.pauses[0]).toBeGreaterThan(0);
    console.log(`pause ${be.pauses[0]} us`);
    expect(be.lastThreadIps.length).toBeGreaterThanOrEqual(2); // main thread and worker
    const [after, , odd] = await t.run();
    expect(after).toBe(3);
    expect(await workerProgresses(t)).toBe(true); // the worker kept running through the patch
    const [, callsAfter] = await t.run();
    expect(callsAfter).toBeGreaterThan(callsBefore);
    expect(odd).toBe(0);
    const siteNow = await be.read(t.valueFn, 5);
    expect(siteNow.ok && Array.from(siteNow.value)).toEqual(Array.from(jmpRel32(t.valueFn, region.value)));
    // Site protection was restored after the redirect.
    const prot = await be.queryProtection(t.valueFn, 1);
    expect(prot.ok && prot.value[0]?.protection).toBe(PAGE_EXECUTE_READ);

    // Undo in reverse: the redirect comes out with threads suspended, the region is freed.
    const undone = await runSteps(be, [
      { op: 'protect', address: asVa(t.valueFn & ~0xfffn), size: 0x1000, protection: PAGE_EXECUTE_READWRITE },
      { op: 'suspend-threads', avoid: [{ start: t.valueFn, size: 5 }], attempts: 100, retryDelayMs: 1 },
      { op: 'redirect', address: t.valueFn, expected: jmpRel32(t.valueFn, region.value), bytes: original.value },
      { op: 'flush', address: t.valueFn, size: 5 },
      { op: 'resume-threads' },
      { op: 'protect', address: asVa(t.valueFn & ~0xfffn), size: 0x1000, protection: PAGE_EXECUTE_READ },
      { op: 'free', address: region.value, size: 0x1000 },
    ]);
    expect(undone.error).toBeNull();
    const closed = await be.close();
    expect(closed.ok && closed.value.freed).toBe(1);
    expect(closed.ok && closed.value.kept).toEqual([]);
    const [reverted, , odd2] = await t.run();
    expect(reverted).toBe(2);
    expect(odd2).toBe(0);
    const c = await openWin32Backend({ pid: t.pid, module: 'probe.dll', env: wineEnv() });
    if (!c.ok) throw new Error(c.error.message);
    const again = await c.value.read(t.valueFn, 5);
    expect(again.ok && Array.from(again.value)).toEqual(Array.from(original.value));
    // The deferred free happened at commit: the region is free again.
    const q = await c.value.agent.request(`query 0x${region.value.toString(16)}`);
    expect(q.ok && q.value['state']).toBe('free');
    await c.value.close();
  });

  test('a region a thread would return into is kept allocated at commit, not freed under it', async () => {
    const b = await openWin32Backend({ pid: t.pid, module: 'probe.dll', env: wineEnv() });
    if (!b.ok) throw new Error(b.error.message);
    const be = b.value;
    const sleep = await be.resolveImport('kernel32.dll', 'Sleep', null);
    const original = await be.read(t.valueFn, 5);
    const region = await be.findFreeRegion({ start: be.module.base, size: be.module.sizeOfImage }, 0x1000);
    if (!sleep.ok || !original.ok || !region.ok) throw new Error('setup');
    // New body: Sleep(1000), return 7. The worker then spends nearly all its time in Sleep
    // with a return address into the region on its stack (long enough for the revert below to
    // reach its commit while the worker still sleeps, on a loaded machine too).
    const body = new Uint8Array([0x48, 0x83, 0xec, 0x28, 0xb9, 0xe8, 0x03, 0, 0, 0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xd0, 0xb8, 7, 0, 0, 0, 0x48, 0x83, 0xc4, 0x28, 0xc3]);
    new DataView(body.buffer).setBigUint64(11, sleep.value, true);
    const steps = patchSteps(region.value, t.valueFn, original.value).map((s) => (s.op === 'write' ? { ...s, bytes: body } : s));
    expect((await runSteps(be, steps)).error).toBeNull();
    expect((await be.close()).ok).toBe(true);
    expect((await t.run())[0]).toBe(7);

    // swap's stack check: the worker sleeps with a return address strictly inside the body
    // (after its `call rax`), its instruction pointer elsewhere; a swap over the body (writing
    // the same bytes) must refuse, naming the return address, and change nothing.
    const s = await openWin32Backend({ pid: t.pid, module: 'probe.dll', env: wineEnv() });
    if (!s.ok) throw new Error(s.error.message);
    expect((await s.value.execute({ op: 'protect', address: region.value, size: 0x1000, protection: PAGE_EXECUTE_READWRITE })).ok).toBe(true);
    const hex = Buffer.from(body).toString('hex');
    const caught = await s.value.agent.request(`swap tries=3 delay=1 site:0x${region.value.toString(16)}:${hex}:${hex}`);
    expect(!caught.ok && caught.error.code).toBe('LIVE_THREAD_IN_SITE');
    expect(!caught.ok && caught.error.message).toMatch(new RegExp(`a return address .*\\(0x${(region.value + 0x15n).toString(16)}\\) for 3 tries`));
    // The same check through Wine's ReadProcessMemory, one stack at a time (io=server), catches it alike.
    const caughtServer = await s.value.agent.request(`swap tries=3 delay=1 io=server site:0x${region.value.toString(16)}:${hex}:${hex}`);
    expect(!caughtServer.ok && caughtServer.error.message).toMatch(new RegExp(`a return address .*\\(0x${(region.value + 0x15n).toString(16)}\\) for 3 tries`));
    // The same bytes with the site ending before the return address: nothing to catch.
    const head = Buffer.from(body.subarray(0, 0x15)).toString('hex');
    const passed = await s.value.agent.request(`swap tries=3 delay=1 site:0x${region.value.toString(16)}:${head}:${head}`);
    expect(passed.ok && passed.value['confirmedBy']).toBe('anchor'); // one NtGetNextThread from the last thread the walk saw
    expect(passed.ok && (passed.value['threads'] as number)).toBeGreaterThanOrEqual(2);
    expect((await s.value.execute({ op: 'protect', address: region.value, size: 0x1000, protection: PAGE_EXECUTE_READ })).ok).toBe(true);
    await s.value.abandon();
    expect((await t.run())[0]).toBe(7);

    const c = await openWin32Backend({ pid: t.pid, module: 'probe.dll', env: wineEnv() });
    if (!c.ok) throw new Error(c.error.message);
    const page = asVa(t.valueFn & ~0xfffn);
    const undone = await runSteps(c.value, [
      { op: 'protect', address: page, size: 0x1000, protection: PAGE_EXECUTE_READWRITE },
      { op: 'suspend-threads', avoid: [{ start: t.valueFn, size: 5 }], attempts: 100, retryDelayMs: 1 },
      { op: 'redirect', address: t.valueFn, expected: jmpRel32(t.valueFn, region.value), bytes: original.value },
      { op: 'flush', address: t.valueFn, size: 5 },
      { op: 'resume-threads' },
      { op: 'protect', address: page, size: 0x1000, protection: PAGE_EXECUTE_READ },
      { op: 'free', address: region.value, size: 0x1000 },
    ]);
    expect(undone.error).toBeNull();
    const closed = await c.value.close();
    expect(closed.ok && closed.value.kept).toEqual([region.value]); // the worker is asleep inside it
    expect(closed.ok && closed.value.freed).toBe(0);
    // The worker wakes up, returns through the kept code, and from then on runs the original.
    expect(await workerProgresses(t)).toBe(true);
    expect((await t.run())[0]).toBe(2);
    // The kept region is still there, code intact. (Freeing it later may still be refused:
    // stale copies of the return address can stay in live stack slots; the check is conservative.)
    const d = await startAgent({ env: wineEnv() });
    if (!d.ok) throw new Error(d.error.message);
    await d.value.request(`open ${t.pid}`);
    const q = await d.value.request(`read 0x${region.value.toString(16)} ${body.length}`);
    expect(q.ok && q.value['bytes']).toBe(Buffer.from(body).toString('hex'));
    await d.value.close();
  });

  test('refuses writes to pages that are not writable and redirects over unexpected bytes, changing nothing', async () => {
    const b = await openWin32Backend({ pid: t.pid, module: 'probe.dll', env: wineEnv() });
    if (!b.ok) throw new Error(b.error.message);
    const be = b.value;
    const original = await be.read(t.valueFn, 5);
    if (!original.ok) throw new Error(original.error.message);
    const w = await be.execute({ op: 'write', address: t.valueFn, bytes: new Uint8Array([0xcc]) });
    expect(!w.ok && w.error.code).toBe('LIVE_NOT_WRITABLE');
    expect(!w.ok && w.error.message).toMatch(/protection 0x20, not writable/);
    const page = asVa(t.valueFn & ~0xfffn);
    const steps: WriteStep[] = [
      { op: 'protect', address: page, size: 0x1000, protection: PAGE_EXECUTE_READWRITE },
      { op: 'suspend-threads', avoid: [], attempts: 1, retryDelayMs: 0 },
      { op: 'redirect', address: t.valueFn, expected: new Uint8Array([0x90, 0x90, 0x90, 0x90, 0x90]), bytes: new Uint8Array([0xcc, 0xcc, 0xcc, 0xcc, 0xcc]) },
    ];
    const r = await runSteps(be, steps);
    expect(r.error).toBe('LIVE_BYTES_MISMATCH');
    // The executor's undo: resume, protection back.
    expect((await runSteps(be, r.undo)).error).toBeNull();
    const after = await be.read(t.valueFn, 5);
    expect(after.ok && Array.from(after.value)).toEqual(Array.from(original.value));
    const prot = await be.queryProtection(t.valueFn, 1);
    expect(prot.ok && prot.value[0]?.protection).toBe(PAGE_EXECUTE_READ);
    await be.close();
    expect((await t.run())[0]).toBe(2);
  });

  test('the Detours rule: a thread that stays inside the bytes to replace makes suspend refuse, threads resumed', async () => {
    const b = await openWin32Backend({ pid: t.pid, module: 'probe.dll', env: wineEnv() });
    if (!b.ok) throw new Error(b.error.message);
    // Every thread's instruction pointer lies somewhere in user space.
    const r = await b.value.execute({ op: 'suspend-threads', avoid: [{ start: asVa(0x10000n), size: 2 ** 47 - 0x10000 }], attempts: 3, retryDelayMs: 1 });
    expect(!r.ok && r.error.code).toBe('LIVE_THREAD_IN_SITE');
    expect(!r.ok && r.error.message).toMatch(/for 3 tries/);
    await b.value.close();
    expect((await t.run())[0]).toBe(2);
    expect(await workerProgresses(t)).toBe(true);
  });

  test('registers unwind data in the target (RtlAddFunctionTable via a remote call) and removes it', async () => {
    const b = await openWin32Backend({ pid: t.pid, module: 'probe.dll', env: wineEnv() });
    if (!b.ok) throw new Error(b.error.message);
    const be = b.value;
    const region = await be.findFreeRegion({ start: be.module.base, size: be.module.sizeOfImage }, 0x1000);
    if (!region.ok) throw new Error(region.error.message);
    const r0 = region.value;
    // Region: code at +0 (NEW_BODY), UNWIND_INFO at +0x100 (version 1, no prolog, no codes),
    // RUNTIME_FUNCTION table at +0x200, scratch for RtlLookupFunctionEntry's ImageBase at +0x300.
    const table = new Uint8Array(12);
    const dv = new DataView(table.buffer);
    dv.setUint32(0, 0, true);
    dv.setUint32(4, NEW_BODY.length, true);
    dv.setUint32(8, 0x100, true);
    const steps: WriteStep[] = [
      { op: 'allocate', address: r0, size: 0x1000, protection: PAGE_READWRITE },
      { op: 'write', address: r0, bytes: NEW_BODY },
      { op: 'write', address: asVa(r0 + 0x100n), bytes: new Uint8Array([0x01, 0, 0, 0]) },
      { op: 'write', address: asVa(r0 + 0x200n), bytes: table },
      { op: 'register-unwind', table: asVa(r0 + 0x200n), entryCount: 1, base: r0 },
    ];
    const applied = await runSteps(be, steps);
    expect(applied.error).toBeNull();
    const lookup = await be.resolveImport('ntdll.dll', 'RtlLookupFunctionEntry', null);
    if (!lookup.ok) throw new Error(lookup.error.message);
    const ask = async (): Promise<bigint> => {
      const r = await be.agent.request(`call 0x${lookup.value.toString(16)} 0x${(r0 + 1n).toString(16)} 0x${(r0 + 0x300n).toString(16)} 0 0`);
      if (!r.ok) throw new Error(r.error.message);
      return BigInt(r.value['result'] as string);
    };
    expect(await ask()).toBe(r0 + 0x200n); // the target's unwinder now finds our entry
    const base = await be.read(asVa(r0 + 0x300n), 8);
    expect(base.ok && new DataView(base.value.buffer).getBigUint64(0, true)).toBe(r0);
    // Undo (deregister + free) through the executor's undo list.
    expect((await runSteps(be, applied.undo)).error).toBeNull();
    expect(await ask().catch(() => -1n)).toBe(0n);
    await be.close();
  });

  test('atomic transactions (plain `begin`) roll back at the first failing step and skip the rest', async () => {
    const a = await startAgent({ env: wineEnv() });
    if (!a.ok) throw new Error(a.error.message);
    const h = (v: bigint): string => `0x${v.toString(16)}`;
    await a.value.request(`open ${t.pid}`);
    const free = await a.value.request(`find-free ${h(t.module)} ${h(t.module + 0x4000_0000n)} 0x1000 ${h(t.module)}`);
    if (!free.ok) throw new Error(free.error.message);
    const r0 = BigInt(free.value['address'] as string);
    const page = t.valueFn & ~0xfffn;
    const original = await a.value.request(`read ${h(t.valueFn)} 5`);
    const replies = await a.value.requestMany([
      'begin',
      `alloc-at ${h(r0)} 0x1000 4`,
      `write ${h(r0)} c3`,
      `protect ${h(page)} 0x1000 0x40`,
      'suspend',
      `redirect ${h(t.valueFn)} ${original.ok ? String(original.value['bytes']) : ''} cccccccccc`,
      `write ${h(t.valueFn)} 90`, // fine so far: the page is writable now
      `write 0x8 90`, // fails: not committed memory -> everything above is undone
      `read ${h(t.valueFn)} 5`,
      'commit',
    ]);
    expect(replies.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'LIVE_NOT_WRITABLE', 'LIVE_ABORTED', 'LIVE_ABORTED']);
    const failed = replies[7];
    expect(!failed?.ok && failed?.error.message).toMatch(/not committed/);
    const after = await a.value.requestMany([`read ${h(t.valueFn)} 5`, `query ${h(r0)}`, `protections ${h(page)} 1`]);
    expect(after[0]?.ok && after[0].value['bytes']).toBe(original.ok && original.value['bytes']);
    expect(after[1]?.ok && after[1].value['state']).toBe('free');
    expect(after[2]?.ok && (after[2].value['runs'] as { protection: number }[])[0]?.protection).toBe(PAGE_EXECUTE_READ);
    await a.value.close();
    expect((await t.run())[0]).toBe(2);
    expect(await workerProgresses(t)).toBe(true); // resumed by the rollback
  });

  test('a driver that goes away mid-transaction leaves the target resumed and unpatched', async () => {
    const b = await openWin32Backend({ pid: t.pid, module: 'probe.dll', env: wineEnv() });
    if (!b.ok) throw new Error(b.error.message);
    const be = b.value;
    const original = await be.read(t.valueFn, 5);
    const region = await be.findFreeRegion({ start: be.module.base, size: be.module.sizeOfImage }, 0x1000);
    if (!original.ok || !region.ok) throw new Error('setup');
    const [, , oddBefore] = await t.run();
    // Everything up to and including the redirect, threads still suspended, then the driver quits.
    const steps = patchSteps(region.value, t.valueFn, original.value).slice(0, 7);
    expect((await runSteps(be, steps)).error).toBeNull();
    await be.abandon();
    const [v, , odd] = await t.run();
    expect(v).toBe(2);
    expect(odd).toBe(oddBefore); // the worker never saw a torn or foreign result
    expect(await workerProgresses(t)).toBe(true);
    const c = await startAgent({ env: wineEnv() });
    if (!c.ok) throw new Error(c.error.message);
    await c.value.request(`open ${t.pid}`);
    const bytes = await c.value.request(`read 0x${t.valueFn.toString(16)} 5`);
    expect(bytes.ok && bytes.value['bytes']).toBe(Buffer.from(original.value).toString('hex'));
    const q = await c.value.request(`query 0x${region.value.toString(16)}`);
    expect(q.ok && q.value['state']).toBe('free');
    const p = await c.value.request(`protections 0x${t.valueFn.toString(16)} 1`);
    expect(p.ok && (p.value['runs'] as { protection: number }[])[0]?.protection).toBe(PAGE_EXECUTE_READ);
    await c.value.close();
  });
  test('swap: the executor sends the suspended span as one request; the worker runs through it; all or nothing', async () => {
    const b = await openWin32Backend({ pid: t.pid, module: 'probe.dll', env: wineEnv() });
    if (!b.ok) throw new Error(b.error.message);
    const be = b.value;
    const original = await be.read(t.valueFn, 5);
    const region = await be.findFreeRegion({ start: be.module.base, size: be.module.sizeOfImage }, 0x1000);
    if (!original.ok || !region.ok) throw new Error('setup');
    // The probe counts odd results since it started (earlier tests of this file may have seen some): none may be added here.
    const [, callsBefore, oddBefore] = await t.run();
    let requests = 0;
    const request = be.agent.request.bind(be.agent);
    be.agent.request = (line: string) => {
      if (line.startsWith('swap ') || line.startsWith('redirect ') || line.startsWith('suspend')) requests++;
      return request(line);
    };
    const applied = await executeSteps(be, patchSteps(region.value, t.valueFn, original.value));
    if (!applied.ok) throw new Error(applied.error.message);
    expect(requests).toBe(1); // suspend + redirect + flush + resume in one `swap`
    expect(be.pauses.length).toBe(1);
    expect(be.lastThreadIps.length).toBeGreaterThanOrEqual(2);
    const [after, , odd] = await t.run();
    expect(after).toBe(3);
    expect(odd).toBe(oddBefore);
    expect(await workerProgresses(t)).toBe(true);
    const [, callsAfter] = await t.run();
    expect(callsAfter).toBeGreaterThan(callsBefore);

    // A second site whose expected bytes are wrong: nothing is written, not even the good site.
    const page = asVa(t.valueFn & ~0xfffn);
    const jmp = jmpRel32(t.valueFn, region.value);
    const bad = await be.agent.request(
      `swap tries=5 delay=1 site:0x${t.valueFn.toString(16)}:${Buffer.from(jmp).toString('hex')}:${Buffer.from(original.value).toString('hex')} site:0x${(page + 0x800n).toString(16)}:00:cc`,
    );
    expect(!bad.ok && bad.error.code).toBe('LIVE_NOT_WRITABLE'); // pages were given back their protection
    await be.execute({ op: 'protect', address: page, size: 0x1000, protection: PAGE_EXECUTE_READWRITE });
    const probe = await be.read(asVa(page + 0x800n), 1);
    if (!probe.ok) throw new Error(probe.error.message);
    const wrong = (probe.value[0]! ^ 0xff).toString(16).padStart(2, '0');
    const mismatch = await be.agent.request(
      `swap tries=5 delay=1 site:0x${t.valueFn.toString(16)}:${Buffer.from(jmp).toString('hex')}:${Buffer.from(original.value).toString('hex')} site:0x${(page + 0x800n).toString(16)}:${wrong}:cc`,
    );
    expect(!mismatch.ok && mismatch.error.code).toBe('LIVE_BYTES_MISMATCH');
    const still = await be.read(t.valueFn, 5);
    expect(still.ok && Array.from(still.value)).toEqual(Array.from(jmp));
    expect((await t.run())[0]).toBe(3);
    expect(await workerProgresses(t)).toBe(true); // resumed after the refusal

    // A thread inside the bytes: every thread's RIP lies in the user range.
    const caught = await be.agent.request(`swap tries=3 delay=1 avoid:0x10000:0x7fffffff0000 site:0x${t.valueFn.toString(16)}:${Buffer.from(jmp).toString('hex')}:${Buffer.from(original.value).toString('hex')}`);
    expect(!caught.ok && caught.error.code).toBe('LIVE_THREAD_IN_SITE');
    expect(!caught.ok && caught.error.message).toMatch(/instruction pointer .* for 3 tries/);
    expect(await workerProgresses(t)).toBe(true);

    // No site (a span without redirects): one pause that checks RIPs against the avoid ranges only.
    expect(be.agent.features).toContain('swap-without-sites');
    const empty = await be.agent.request('swap tries=2 delay=1');
    expect(empty.ok && [empty.value['sites'], empty.value['stackReads'], empty.value['writes']]).toEqual([0, 0, 0]);
    const emptyCaught = await be.agent.request('swap tries=2 delay=1 avoid:0x10000:0x7fffffff0000');
    expect(!emptyCaught.ok && emptyCaught.error.code).toBe('LIVE_THREAD_IN_SITE');
    expect(await workerProgresses(t)).toBe(true);

    // Overlapping sites are a bad request.
    const overlap = await be.agent.request(`swap site:0x${t.valueFn.toString(16)}:0000:0000 site:0x${(t.valueFn + 1n).toString(16)}:00:00`);
    expect(!overlap.ok && overlap.error.code).toBe('LIVE_BAD_REQUEST');
    await be.abandon(); // the agent's log puts the original bytes and protections back
    const [v, , odd2] = await t.run();
    expect(v).toBe(2);
    expect(odd2).toBe(oddBefore);
  });

  /** A fresh 64 KiB region near probe.dll (protection `prot`) filled with a pattern whose every byte differs from its neighbours, so a write of stale or shifted bytes shows. */
  async function patternRegion(prot: number): Promise<{ be: Win32AgentBackend; region: { value: Va }; at: (off: number) => string; pattern: Buffer }> {
    const b = await openWin32Backend({ pid: t.pid, module: 'probe.dll', env: wineEnv() });
    if (!b.ok) throw new Error(b.error.message);
    const be = b.value;
    const region = await be.findFreeRegion({ start: be.module.base, size: be.module.sizeOfImage }, 0x10000);
    if (!region.ok) throw new Error(region.error.message);
    const at = (off: number): string => `0x${(region.value + BigInt(off)).toString(16)}`;
    expect((await be.agent.request(`alloc-at ${at(0)} 0x10000 0x${prot.toString(16)}`)).ok).toBe(true);
    const pattern = Buffer.from(Array.from({ length: 0x10000 }, (_, i) => (i * 7 + (i >> 8)) & 0xff));
    for (let off = 0; off < 0x10000; off += 0x4000) expect((await be.agent.request(`write ${at(off)} ${pattern.subarray(off, off + 0x4000).toString('hex')}`)).ok).toBe(true);
    return { be, region: { value: region.value }, at, pattern };
  }

  test('swap (io=server): nearby sites share one write when the pages between are code made writable, the bytes between untouched; data, code not writable, or a gap of 32 KiB keeps them apart', async () => {
    const { be, region, at, pattern } = await patternRegion(PAGE_READWRITE);
    const protect = async (off: number, prot: number): Promise<void> => expect((await be.agent.request(`protect ${at(off)} 0x1000 0x${prot.toString(16)}`)).ok).toBe(true);
    const site = (off: number, bytes: string): string => `site:${at(off)}:${pattern.subarray(off, off + bytes.length / 2).toString('hex')}:${bytes}`;
    const expectBytes = async (changed: Map<number, string>): Promise<void> => {
      const r = await be.read(region.value, 0x10000);
      if (!r.ok) throw new Error(r.error.message);
      const want = Buffer.from(pattern);
      for (const [off, hex] of changed) Buffer.from(hex, 'hex').copy(want, off);
      expect(Buffer.from(r.value).equals(want)).toBe(true);
    };
    // Sites on pages 0 and 2, page 1 between them plain writable data: two writes (data between sites is never rewritten).
    const data = await be.agent.request(`swap tries=5 delay=1 io=server ${site(0x10, pattern.subarray(0x10, 0x12).toString('hex'))} ${site(0x2020, pattern.subarray(0x2020, 0x2023).toString('hex'))}`);
    expect(data.ok ? [data.value['reads'], data.value['writes'], data.value['storeBytes']] : `${data.error.code}: ${data.error.message}`).toEqual([1, 2, 5]);
    // Page 1 code made writable (as the plan leaves the code pages between nearby sites): one write covers both.
    await protect(0x1000, PAGE_EXECUTE_READWRITE);
    const one = await be.agent.request(`swap tries=5 delay=1 io=server ${site(0x10, 'c3c3')} ${site(0x2020, 'cccccc')}`);
    expect(one.ok ? [one.value['reads'], one.value['writes'], one.value['storeBytes']] : `${one.error.code}: ${one.error.message}`).toEqual([1, 1, 0x2023 - 0x10]);
    await expectBytes(new Map([[0x10, 'c3c3'], [0x2020, 'cccccc']]));
    // Page 1 code not writable: the same two sites (back to the pattern) take two writes; page 1 is not written.
    await protect(0x1000, PAGE_EXECUTE_READ);
    const two = await be.agent.request(`swap tries=5 delay=1 io=server site:${at(0x10)}:c3c3:${pattern.subarray(0x10, 0x12).toString('hex')} site:${at(0x2020)}:cccccc:${pattern.subarray(0x2020, 0x2023).toString('hex')}`);
    expect(two.ok ? [two.value['reads'], two.value['writes'], two.value['storeBytes']] : `${two.error.code}: ${two.error.message}`).toEqual([1, 2, 5]);
    await expectBytes(new Map());
    // 32 KiB or more apart (every page between code made writable): two writes, one read (less than 64 KiB apart).
    for (let off = 0x1000; off < 0x9000; off += 0x1000) await protect(off, PAGE_EXECUTE_READWRITE);
    const far = await be.agent.request(`swap tries=5 delay=1 io=server ${site(0x10, 'c3')} ${site(0x8011, '90')}`);
    expect(far.ok ? [far.value['reads'], far.value['writes'], far.value['storeBytes']] : `${far.error.code}: ${far.error.message}`).toEqual([1, 2, 2]);
    await expectBytes(new Map([[0x10, 'c3'], [0x8011, '90']]));
    await be.abandon(); // the log frees the region
  });

  test('swap under Wine on Linux: the stacks, the compare and the stores each in one process_vm call, only the sites moved; a wrong byte still refuses and writes nothing', async () => {
    // The agent moves memory through the Linux kernel when it may (expectedAgentIo).
    const expectedIo = expectedAgentIo();
    const { be, region, at, pattern } = await patternRegion(PAGE_EXECUTE_READWRITE);
    const offs = [0x10, 0x2020, 0x8011, 0xfff0];
    const news = ['c3c3', 'cccccc', '90', 'e9000000'];
    const sites = offs.map((off, k) => `site:${at(off)}:${pattern.subarray(off, off + news[k]!.length / 2).toString('hex')}:${news[k]}`).join(' ');
    const r = await be.agent.request(`swap tries=5 delay=1 ${sites}`);
    if (!r.ok) throw new Error(r.error.message);
    const siteBytes = news.reduce((n, h) => n + h.length / 2, 0);
    // With a seccomp filter on (expectedIo null) either path is right; its counts must then match it.
    if (expectedIo === 'process_vm' || (expectedIo === null && r.value['io'] === 'process_vm')) {
      expect([r.value['io'], r.value['reads'], r.value['writes'], r.value['readBytes'], r.value['storeBytes'], r.value['stackReads']]).toEqual(['process_vm', 1, 1, siteBytes, siteBytes, 1]);
      expect(r.value['stackBytes']).toBeGreaterThan(0);
    } else expect(r.value['io']).toBe('server');
    const got = await be.read(region.value, 0x10000);
    if (!got.ok) throw new Error(got.error.message);
    const want = Buffer.from(pattern);
    offs.forEach((off, k) => Buffer.from(news[k]!, 'hex').copy(want, off));
    expect(Buffer.from(got.value).equals(want)).toBe(true); // the sites, and not one byte between them
    // Back, with one expected byte wrong: refused, nothing written (not even the good sites).
    const back = offs.map((off, k) => `site:${at(off)}:${k === 3 ? 'e9000001' : news[k]}:${pattern.subarray(off, off + news[k]!.length / 2).toString('hex')}`).join(' ');
    const bad = await be.agent.request(`swap tries=5 delay=1 ${back}`);
    expect(!bad.ok && bad.error.code).toBe('LIVE_BYTES_MISMATCH');
    expect(!bad.ok && bad.error.message).toContain(`byte at 0x${(region.value + 0xfff3n).toString(16)} is 0x00, expected 0x01`);
    const still = await be.read(region.value, 0x10000);
    expect(still.ok && Buffer.from(still.value).equals(want)).toBe(true);
    expect(await workerProgresses(t)).toBe(true); // resumed after the refusal
    await be.abandon(); // the log frees the region
  });

  test('swap under Wine on Linux as root: the target, the wineserver and the agent run at nice -20 for the pause, and every thread and autogroup is back to its own value after', async () => {
    if (expectedAgentIo() !== 'process_vm' || process.getuid?.() !== 0) return; // the boost needs the kernel path and the right to lower a nice value
    const pid = targetLinuxPid(join(dir, 'target.exe'));
    const tasks = (): number[] => tasksOf(pid);
    const groupFile = `/proc/${pid}/autogroup`;
    const groupNice = (): number | null => autogroupNice(groupFile);
    // Values of our own that the agent must put back exactly (not 0, not -20).
    for (const tid of tasks()) setPriority(tid, 3);
    // Each thread's scheduling policy and slice (host-sched.h: the pause shortens the slice so
    // that wake-ups preempt; it must be what it was after).
    const schedOf = (): string[] => schedsOf(pid);
    const schedBefore = schedOf();
    expect(schedBefore.every((x) => /^\d+\/\d+$/.test(x))).toBe(true);
    // A process outside any session group is in the root autogroup (its file reads empty), whose
    // share the kernel will not change (EINVAL): the agent then leaves it alone, and so does this test.
    const groupBefore = ownAutogroupNice(groupFile, groupNice());
    try {
      const { be, region, at, pattern } = await patternRegion(PAGE_EXECUTE_READWRITE);
      const r = await be.agent.request(`swap tries=5 delay=1 site:${at(0x40)}:${pattern.subarray(0x40, 0x42).toString('hex')}:c3c3`);
      if (!r.ok) throw new Error(r.error.message);
      expect(r.value['io']).toBe('process_vm');
      // Every thread of the target and the agent's own (the wineserver's too when found).
      const serverTasks = tasksOf(wineServerLinuxPid()).length;
      expect(r.value['boosted']).toBeGreaterThanOrEqual(tasks().length + serverTasks + 1);
      if (groupBefore !== null) expect(r.value['boostedGroups']).toBeGreaterThanOrEqual(1); // the target's session group (the wineserver's own, when found)
      for (const tid of tasks()) expect(getPriority(tid)).toBe(3);
      if (groupBefore !== null) expect(groupNice()).toBe(2);
      // Every boosted thread was made SCHED_FIFO (the default; with `slice`, the shortest slice, which a kernel before 6.12 takes and ignores), and has its own policy and slice back.
      expect(r.value['boostedSlices']).toBe(r.value['boosted']);
      expect(schedOf()).toEqual(schedBefore);
      // A wrong expected byte under the boost: refused, nothing written, every value put back.
      const wrong = await be.agent.request(`swap tries=5 delay=1 site:${at(0x40)}:c3c4:${pattern.subarray(0x40, 0x42).toString('hex')}`);
      expect(!wrong.ok && wrong.error.code).toBe('LIVE_BYTES_MISMATCH');
      const kept = await be.read(asVa(region.value + 0x40n), 2);
      expect(kept.ok && Buffer.from(kept.value).toString('hex')).toBe('c3c3');
      for (const tid of tasks()) expect(getPriority(tid)).toBe(3);
      expect(schedOf()).toEqual(schedBefore);
      // A swap whose threads are caught on every try (an avoid range over the whole user space):
      // while the retry waits the target runs unboosted (a caught thread may be one that loops),
      // and after the refusal every value is back.
      const caught = be.agent.request('swap tries=2 delay=1500 avoid:0x10000:0x7ffffffe0000');
      await new Promise((r) => setTimeout(r, 700));
      const during = tasks().map((tid) => getPriority(tid));
      const refused = await caught;
      expect(!refused.ok && refused.error.code).toBe('LIVE_THREAD_IN_SITE');
      expect(during.every((n) => n === 3)).toBe(true);
      for (const tid of tasks()) expect(getPriority(tid)).toBe(3);
      expect(schedOf()).toEqual(schedBefore);
      // A swap without sites (a span with no redirect: it moves no memory) is boosted the same,
      // by a fresh agent that has not looked for the target's Linux pid yet, and puts every value back.
      const bare = await openWin32Backend({ pid: t.pid, module: 'probe.dll', env: { ...wineEnv(), HOTPATCH_AGENT_SCHEDSTAT: '1' } });
      if (!bare.ok) throw new Error(bare.error.message);
      const nosite = await bare.value.agent.request('swap tries=5 delay=1');
      if (!nosite.ok) throw new Error(nosite.error.message);
      expect([nosite.value['sites'], nosite.value['io']]).toEqual([0, 'none']);
      expect(nosite.value['boosted']).toBeGreaterThanOrEqual(tasks().length + serverTasks + 1);
      if (groupBefore !== null) expect(nosite.value['boostedGroups']).toBeGreaterThanOrEqual(1);
      expect(nosite.value['boostedSlices']).toBe(nosite.value['boosted']);
      for (const tid of tasks()) expect(getPriority(tid)).toBe(3);
      if (groupBefore !== null) expect(groupNice()).toBe(2);
      expect(schedOf()).toEqual(schedBefore);
      // HOTPATCH_AGENT_SCHEDSTAT=1: the Linux run time of the target, the wineserver and the agent
      // during the pause (each ran: the target's threads their suspend handler, the server the
      // requests, the agent the calls), and their waits for a core.
      const run = nosite.value['schedRunUs'] as number[];
      expect(run.length).toBe(3);
      expect(run.every((x) => x > 0)).toBe(true);
      expect((nosite.value['schedWaitUs'] as number[]).every((x) => x >= 0)).toBe(true);
      await bare.value.abandon();
      // HOTPATCH_AGENT_BOOST=nice: nice -20 and the autogroups, no slice.
      const nice = await openWin32Backend({ pid: t.pid, module: 'probe.dll', env: { ...wineEnv(), HOTPATCH_AGENT_BOOST: 'nice' } });
      if (!nice.ok) throw new Error(nice.error.message);
      const ni = await nice.value.agent.request(`swap tries=5 delay=1 site:${at(0x40)}:c3c3:c3c3`);
      expect(ni.ok && ni.value['boosted']).toBeGreaterThan(0);
      expect(ni.ok && ni.value['boostedSlices']).toBe(0);
      await nice.value.abandon();
      // HOTPATCH_AGENT_BOOST=slice: the shortest slice instead of SCHED_FIFO, every policy, slice and nice back after.
      const rt = await openWin32Backend({ pid: t.pid, module: 'probe.dll', env: { ...wineEnv(), HOTPATCH_AGENT_BOOST: 'slice' } });
      if (!rt.ok) throw new Error(rt.error.message);
      const rr = await rt.value.agent.request(`swap tries=5 delay=1 site:${at(0x40)}:c3c3:c3c3`);
      expect(rr.ok && rr.value['boosted']).toBeGreaterThan(0);
      expect(rr.ok && rr.value['boostedSlices']).toBe(rr.ok && rr.value['boosted']);
      for (const tid of tasks()) expect(getPriority(tid)).toBe(3);
      expect(schedOf()).toEqual(schedBefore);
      await rt.value.abandon();
      // HOTPATCH_AGENT_BOOST=none: nothing raised.
      const off = await openWin32Backend({ pid: t.pid, module: 'probe.dll', env: { ...wineEnv(), HOTPATCH_AGENT_BOOST: 'none' } });
      if (!off.ok) throw new Error(off.error.message);
      const n = await off.value.agent.request(`swap tries=5 delay=1 site:${at(0x40)}:c3c3:c3c3`);
      expect(n.ok && n.value['boosted']).toBe(0);
      const n0 = await off.value.agent.request('swap tries=5 delay=1');
      expect(n0.ok && n0.value['boosted']).toBe(0);
      await off.value.abandon();
      await be.abandon(); // the log frees the region
      expect(await workerProgresses(t)).toBe(true);
    } finally {
      for (const tid of tasks()) setPriority(tid, 0);
      if (groupBefore !== null) writeFileSync(groupFile, String(groupBefore));
    }
  });

  test('an agent killed between the boost and the restore leaves nothing raised: its watchdog puts back every nice, slice, policy and autogroup (HOTPATCH_AGENT_GUARD=off, the build before it: the target stays at nice -20)', async () => {
    if (expectedAgentIo() !== 'process_vm' || process.getuid?.() !== 0) return; // the boost needs the kernel path and the right to lower a nice value
    const pid = targetLinuxPid(join(dir, 'target.exe'));
    const server = wineServerLinuxPid();
    const groupFile = `/proc/${pid}/autogroup`;
    for (const tid of tasksOf(pid)) setPriority(tid, 3);
    const groupBefore = ownAutogroupNice(groupFile, autogroupNice(groupFile));
    // The wineserver is shared with whatever else runs in this prefix (other agents boost it for
    // their pauses): only its policies are compared, SCHED_OTHER before and after.
    const state = (): string => JSON.stringify([tasksOf(pid).map((tid) => getPriority(tid)), schedsOf(pid), autogroupNice(groupFile), schedsOf(server).map((x) => x.split('/')[0])]);
    const before = state();
    const killedAfterBoost = async (env: Record<string, string>): Promise<void> => {
      const b = await openWin32Backend({ pid: t.pid, module: 'probe.dll', env: { ...wineEnv(), HOTPATCH_AGENT_TEST_DIE: 'boost', ...env } });
      if (!b.ok) throw new Error(b.error.message);
      const r = await b.value.agent.request('swap tries=5 delay=1'); // boosts, then SIGKILLs itself before the suspension
      expect(!r.ok && r.error.code).toBe('LIVE_AGENT_EXITED');
    };
    const settled = async (want: string): Promise<string> => {
      for (let i = 0; i < 100 && state() !== want; i++) await new Promise((r) => setTimeout(r, 20));
      return state();
    };
    try {
      // The default (SCHED_FIFO, nice -20, autogroups), and HOTPATCH_AGENT_BOOST=slice (the shortest slice instead of SCHED_FIFO).
      for (const env of [{}, { HOTPATCH_AGENT_BOOST: 'slice' }]) {
        await killedAfterBoost(env);
        expect(await settled(before)).toBe(before);
      }
      // The twin without the watchdog (the target only, so nothing but the target is left raised): it stays.
      await killedAfterBoost({ HOTPATCH_AGENT_BOOST: 'target', HOTPATCH_AGENT_GUARD: 'off' });
      await new Promise((r) => setTimeout(r, 1000));
      expect(tasksOf(pid).map((tid) => getPriority(tid)).every((n) => n === -20)).toBe(true);
      expect(await workerProgresses(t)).toBe(true); // never suspended
    } finally {
      for (const tid of tasksOf(pid)) setPriority(tid, 0);
      if (groupBefore !== null) writeFileSync(groupFile, String(groupBefore));
    }
  });

  // Last of the file's tests: the work item's pool thread lingers after it returns (an idle pool
  // thread exits later), which would change the thread list the boost test compares.
  test('swap and suspend: a thread at the first byte of a site has run none of it, unless a site jumps there: written under it, the thread runs the new bytes; one byte further in, or at a short jump\'s target, it is caught', async () => {
    const b = await openWin32Backend({ pid: t.pid, module: 'probe.dll', env: wineEnv() });
    if (!b.ok) throw new Error(b.error.message);
    const be = b.value;
    const queue = await be.resolveImport('kernel32.dll', 'QueueUserWorkItem', null);
    const region = await be.findFreeRegion({ start: be.module.base, size: be.module.sizeOfImage }, 0x1000);
    if (!queue.ok || !region.ok) throw new Error('setup');
    const r0 = region.value;
    const at = (off: bigint): string => `0x${(r0 + off).toString(16)}`;
    // A work item: `mov rax, r0+10` at +0, `jmp rax` at +10: its thread spins with RIP at +10 for
    // ever (no site jump targets +10). At +0x20 a short jump to +10, as a redirect's entry to its pad.
    // The item enters at +0x40: `mov byte [rip-0x17], 1` (the flag at +0x30, which the test polls
    // by reading memory), then `jmp +0`.
    const code = new Uint8Array(0x50).fill(0xcc);
    code.set([0x48, 0xb8]);
    new DataView(code.buffer).setBigUint64(2, r0 + 10n, true);
    code.set([0xff, 0xe0], 10);
    code.set([0xeb, 0xe8], 0x20);
    code[0x30] = 0;
    code.set([0xc6, 0x05, 0xe9, 0xff, 0xff, 0xff, 0x01, 0xeb, 0xb7], 0x40);
    const steps: WriteStep[] = [
      { op: 'allocate', address: r0, size: 0x1000, protection: PAGE_READWRITE },
      { op: 'write', address: r0, bytes: code },
      { op: 'protect', address: r0, size: 0x1000, protection: PAGE_EXECUTE_READWRITE },
      { op: 'flush', address: r0, size: 0x1000 },
    ];
    expect((await runSteps(be, steps)).error).toBeNull();
    const queued = await be.agent.request(`call 0x${queue.value.toString(16)} ${at(0x40n)} 0 0 0`);
    expect(queued.ok && queued.value['result']).not.toBe('0x0');
    const imm = Buffer.from(code.subarray(9, 10)).toString('hex');
    // The work item runs when the thread pool gets to it (on a loaded machine, and with the agent
    // raised above the target, that can be after the first request below): wait for its flag
    // (memory reads, which hold nothing), then until a hold finds its thread at +10, so every
    // check below sees the thread spinning there. Polling with holds alone made dozens of them
    // while the pool was slow, each costing the wineserver two ptrace stops per target thread
    // (PROTOCOL.md, "Memory I/O under Wine").
    const started = Date.now() + 10_000;
    for (let flag = await be.read(asVa(r0 + 0x30n), 1); flag.ok && flag.value[0] !== 1 && Date.now() < started; flag = await be.read(asVa(r0 + 0x30n), 1)) {
      await new Promise((done) => setTimeout(done, 5));
    }
    let seen = await be.agent.request(`suspend avoid:${at(9n)}:3 tries=1 delay=1`);
    while (seen.ok && Date.now() < started) {
      expect((await be.agent.request('resume')).ok).toBe(true);
      seen = await be.agent.request(`suspend avoid:${at(9n)}:3 tries=1 delay=1`);
    }
    expect(!seen.ok && seen.error.code).toBe('LIVE_THREAD_IN_SITE');
    // RIP one byte into a site from +9: caught on every try, nothing written.
    const inside = await be.agent.request(`swap tries=3 delay=1 avoid:${at(9n)}:3 site:${at(9n)}:${imm}ffe0:${imm}c3cc`);
    expect(!inside.ok && inside.error.code).toBe('LIVE_THREAD_IN_SITE');
    expect(!inside.ok && inside.error.message).toMatch(new RegExp(`its instruction pointer in bytes to be replaced \\(${at(10n)}\\) for 3 tries`));
    // RIP at the first byte of a site that another site's short jump reaches (a thread that came
    // through a redirect's entry into its pad, both rewritten): caught too.
    const padded = await be.agent.request(`swap tries=3 delay=1 avoid:${at(10n)}:2 avoid:${at(0x20n)}:2 site:${at(10n)}:ffe0:c3cc site:${at(0x20n)}:ebe8:cccc`);
    expect(!padded.ok && padded.error.code).toBe('LIVE_THREAD_IN_SITE');
    const still = await be.read(r0, 0x22);
    expect(still.ok && Buffer.from(still.value).equals(Buffer.from(code.subarray(0, 0x22)))).toBe(true);
    // `suspend` (the executor's rollback, an agent without swap): the same rule, the ranges' bytes
    // read under its hold. At +10 with nothing jumping there: held on the first try (main's agent:
    // caught on every try). One byte further in, or with a short jump to +10 in a range (at its
    // start, or inside a run of sites): caught.
    const held = await be.agent.request(`suspend avoid:${at(10n)}:2 tries=3 delay=1`);
    expect(held.ok ? held.value['attempts'] : held.error).toBe(1);
    expect((await be.agent.request('resume')).ok).toBe(true);
    for (const ranges of [`avoid:${at(9n)}:3`, `avoid:${at(10n)}:2 avoid:${at(0x20n)}:2`, `avoid:${at(10n)}:2 avoid:${at(0x1en)}:4`]) {
      const r = await be.agent.request(`suspend ${ranges} tries=3 delay=1`);
      expect(!r.ok && r.error.code).toBe('LIVE_THREAD_IN_SITE');
      expect(!r.ok && r.error.message).toContain(`(rip ${at(10n)}) for 3 tries`);
    }
    // A site from +10, the RIP itself, no site jumping there: written on the first try; the thread
    // runs its `ret` back to the thread pool, so afterwards no thread is anywhere in +9..+12.
    const first = await be.agent.request(`swap tries=3 delay=1 avoid:${at(10n)}:2 site:${at(10n)}:ffe0:c3cc`);
    expect(first.ok && first.value['attempts']).toBe(1);
    const deadline = Date.now() + 10_000;
    let left = await be.agent.request(`swap tries=1 delay=1 avoid:${at(9n)}:3`);
    while (!left.ok && Date.now() < deadline) left = await be.agent.request(`swap tries=1 delay=1 avoid:${at(9n)}:3`);
    expect(left.ok).toBe(true);
    await be.close();
    expect(await workerProgresses(t)).toBe(true);
  });

  test('a target stopped (SIGSTOP) while the agent serves it, or between requests, is continued: every swap completes, and the target does not stay stopped', async () => {
    // Wine loses a ptrace stop now and then under load (PROTOCOL.md, "Memory I/O under Wine"):
    // the target's threads sit in group stop, and whatever needs a turn of a target thread (a
    // suspension, VirtualQueryEx served by an APC in the target) waits without a timeout. Here
    // the stops come from outside, every 2 ms, so they land everywhere in the requests; an agent
    // that only checked before each hold waited until the request timeout on every swap.
    const pid = targetLinuxPid(join(dir, 'target.exe'));
    const b = await openWin32Backend({ pid: t.pid, module: 'probe.dll', env: wineEnv(), timeoutMs: 15_000 });
    if (!b.ok) throw new Error(b.error.message);
    const be = b.value;
    expect((await be.agent.request('swap tries=1 delay=1')).ok).toBe(true); // the Linux pid looked up while the target runs
    let stops = 0;
    const stopper = setInterval(() => {
      process.kill(pid, 'SIGSTOP');
      stops++;
    }, 2);
    let continued = 0;
    const errors: string[] = [];
    try {
      // At least 40 swaps, and on until more than 40 stops were sent (a fast agent makes 40
      // swaps in less than 80 ms, fewer than 40 of the 2 ms intervals).
      for (let i = 0; i < 2000 && (i < 40 || stops <= 40); i++) {
        const r = await be.agent.request('swap tries=5 delay=1');
        if (r.ok) continued += Number(r.value['continued']);
        else errors.push(`${r.error.code}: ${r.error.message}`);
      }
    } finally {
      clearInterval(stopper);
      process.kill(pid, 'SIGCONT');
    }
    expect(errors).toEqual([]);
    expect(stops).toBeGreaterThan(40);
    expect(continued).toBeGreaterThan(0);
    // One stop while the agent is idle (a late stop after the last request): continued too.
    process.kill(pid, 'SIGSTOP');
    await new Promise((r) => setTimeout(r, 500));
    const states = tasksOf(pid).map((tid) => { try { return /\) (\S)/.exec(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1'))?.[1] ?? '?'; } catch { return 'gone'; } });
    process.kill(pid, 'SIGCONT');
    expect(states.filter((st) => st === 'T')).toEqual([]);
    await be.close();
    expect(await workerProgresses(t)).toBe(true);
  });
});




/** Each thread's policy/slice from /proc/PID/task/TID/sched. */
function schedsOf(pid: number): string[] {
  return tasksOf(pid).map((tid) => { try { return /^policy +: +(\d+)$[\s\S]*^se\.slice +: +(\d+)$/m.exec(readFileSync(`/proc/${pid}/task/${tid}/sched`, 'utf8'))?.slice(1).join('/') ?? '?'; } catch { return 'gone'; } });
}

/** The group nice in /proc/PID/autogroup, or null (no autogroups; the root group reads as an empty file). */
function autogroupNice(file: string): number | null {
  const m = existsSync(file) ? / nice (-?\d+)/.exec(readFileSync(file, 'utf8')) : null;
  return m ? Number(m[1]) : null;
}

/** The nice of the session autogroup in `file` after setting it to 2, or null when the process has
 * none the kernel lets us change (autogroups off, or the root group, which refuses with EINVAL). */
function ownAutogroupNice(file: string, before: number | null): number | null {
  if (before === null) return null;
  try {
    writeFileSync(file, '2');
  } catch {
    return null;
  }
  return before;
}
