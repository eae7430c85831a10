/**
 * The agent against a target some of whose threads cannot run (root and the cgroup v1 freezer
 * only): a thread the wineserver lost while it could not run, and a thread that does not stop at
 * all. Either used to hang every later hold (PROTOCOL.md, "A thread the server lost" and "The
 * hold's bound").
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asVa } from '../../common/types.ts';
import { missingTools } from '../../test/support/tools.ts';
import { keepWineServer, startWine, wineEnv } from '../../test/support/wine.ts';
import { buildTargets, FREEZER, lineReader, startTarget as startTargetIn, targetLinuxPid, tasksOf, type Target, wineServerLinuxPid, workerProgresses } from '../../test/support/win32-target.ts';
import { PAGE_EXECUTE_READ, PAGE_EXECUTE_READWRITE, PAGE_READWRITE } from '../plan/write-plan.ts';
import { openWin32Backend } from './win32-agent.ts';

const skip = missingTools(['mingw', 'wine']) ?? (process.getuid?.() !== 0 ? 'not root' : !existsSync(`${FREEZER}/cgroup.procs`) ? 'no cgroup v1 freezer' : undefined);

let dir = '';
const startTarget = (worker: boolean, exe?: string): Promise<Target> => startTargetIn(dir, worker, exe);

/** The thread of Linux process `pid` that ran the most over 300 ms: the target's worker. */
async function busiestThread(pid: number): Promise<number> {
  const ticks = (tid: number): number => { try { const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1').replace(/^.*\) /, '').split(' '); return Number(f[11]) + Number(f[12]); } catch { return 0; } };
  const before = new Map(tasksOf(pid).map((tid) => [tid, ticks(tid)]));
  await new Promise((r) => setTimeout(r, 300));
  let best = 0;
  let most = -1;
  for (const [tid, t0] of before) if (ticks(tid) - t0 > most) (most = ticks(tid) - t0), (best = tid);
  return best;
}

/**
 * Runs `body` with `ids` frozen in a cgroup of their own: Linux threads (`tasks`), or whole
 * processes (`cgroup.procs`); thaws and puts them back after.
 */
async function frozen<T>(name: string, file: 'tasks' | 'cgroup.procs', ids: readonly number[], body: () => Promise<T>): Promise<T> {
  const group = `${FREEZER}/${name}`;
  mkdirSync(group);
  try {
    for (const id of ids) writeFileSync(`${group}/${file}`, String(id));
    writeFileSync(`${group}/freezer.state`, 'FROZEN');
    for (let i = 0; i < 100 && readFileSync(`${group}/freezer.state`, 'latin1').trim() !== 'FROZEN'; i++) await new Promise((r) => setTimeout(r, 10));
    return await body();
  } finally {
    writeFileSync(`${group}/freezer.state`, 'THAWED');
    for (const id of ids) try { writeFileSync(`${FREEZER}/${file}`, String(id)); } catch { /* exited */ }
    rmdirSync(group);
  }
}

describe.skipIf(skip !== undefined)(`win32 agent: target threads that cannot run${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hp-agent-frozen-'));
    buildTargets(dir);
    keepWineServer();
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a target thread the wineserver lost (its ptrace stop timed out while the thread could not run) is still held: the agent signals it itself, the hold completes, the target runs on', async () => {
    // Under Wine a ReadProcessMemory by any program, and the debug registers of every thread Wine
    // suspends or resumes, make the wineserver PTRACE_ATTACH a thread of the target and wait 3 s
    // for its stop. A thread that gets no core that long: the server's PTRACE_DETACH fails (the
    // thread is not stopped yet), the server takes the thread for dead and never signals it again,
    // so no suspension of it completed, and every later hold waited for ever (PROTOCOL.md, "A thread
    // the server lost"). Here another program reads a second target while that target is frozen
    // (cgroup freezer) for longer than the server waits.
    writeFileSync(join(dir, 'lost.exe'), readFileSync(join(dir, 'target.exe')));
    const lost = await startTarget(true, 'lost.exe');
    const pid = targetLinuxPid(join(dir, 'lost.exe'));
    const b = await openWin32Backend({ pid: lost.pid, module: 'probe.dll', env: wineEnv(), timeoutMs: 20_000 });
    if (!b.ok) throw new Error(b.error.message);
    const be = b.value;
    try {
      expect((await be.agent.request('swap tries=1 delay=1')).ok).toBe(true); // the Linux pid known: the unstopper runs
      const peek = startWine(join(dir, 'peek.exe'), [String(lost.pid), `0x${lost.module.toString(16)}`, '16']);
      const peekLine = lineReader(peek);
      expect(await peekLine()).toBe('ready');
      const read = await frozen(`hp-lost-${pid}`, 'cgroup.procs', [pid], () => {
        peek.stdin.write('go\n');
        return peekLine();
      });
      peek.stdin.end();
      // The server gave up (the read failed) and keeps the thread traced without stopping it.
      expect(read).toMatch(/^read 0/);
      await new Promise((done) => setTimeout(done, 300));
      const lostThreads = tasksOf(pid).filter((tid) => /TracerPid:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'latin1'))?.[1] === String(wineServerLinuxPid()));
      expect(lostThreads.length).toBe(1);
      // Each hold signals the lost thread itself (the agent before this: LIVE_AGENT_TIMEOUT).
      const held = await be.agent.request('suspend');
      if (!held.ok) throw new Error(`suspend: ${held.error.code} ${held.error.message}`);
      expect(held.value['lostSignals']).toBeGreaterThanOrEqual(1);
      expect((await be.agent.request('resume')).ok).toBe(true);
      const swapped = await be.agent.request('swap tries=3 delay=1');
      if (!swapped.ok) throw new Error(`swap: ${swapped.error.code} ${swapped.error.message}`);
      expect([swapped.value['attempts'], swapped.value['lostSignals']]).toEqual([1, 1]);
    } finally {
      await be.close();
    }
    expect(await workerProgresses(lost)).toBe(true);
    expect(await lost.stop()).toBe(0);
  });

  test('a target thread that does not stop (frozen): each hold gives up at its limit with LIVE_HOLD_STUCK, lets every thread go and writes nothing; thawed, the target runs on and holds complete again', async () => {
    // GetThreadContext waits until the thread has stopped, with no limit under Wine: the agent
    // before this waited for ever (the client's LIVE_AGENT_TIMEOUT, every later request too).
    copyFileSync(join(dir, 'target.exe'), join(dir, 'stuck.exe'));
    const t = await startTarget(true, 'stuck.exe');
    const pid = targetLinuxPid(join(dir, 'stuck.exe'));
    const b = await openWin32Backend({ pid: t.pid, module: 'probe.dll', env: wineEnv(), timeoutMs: 20_000 });
    if (!b.ok) throw new Error(b.error.message);
    const be = b.value;
    try {
      // A patch of `value` ready to swap in: the new body in a region, the site's page writable.
      const original = await be.read(t.valueFn, 5);
      const region = await be.findFreeRegion({ start: be.module.base, size: be.module.sizeOfImage }, 0x1000);
      if (!original.ok || !region.ok) throw new Error('setup');
      for (const step of [
        { op: 'allocate', address: region.value, size: 0x1000, protection: PAGE_READWRITE },
        { op: 'write', address: region.value, bytes: new Uint8Array([0x8d, 0x41, 0x02, 0xc3]) }, // lea eax,[rcx+2]; ret
        { op: 'protect', address: region.value, size: 0x1000, protection: PAGE_EXECUTE_READ },
        { op: 'protect', address: asVa(t.valueFn & ~0xfffn), size: 0x1000, protection: PAGE_EXECUTE_READWRITE },
      ] as const) {
        const r = await be.execute(step);
        if (!r.ok) throw new Error(`${step.op}: ${r.error.message}`);
      }
      const rel = Number(region.value - (t.valueFn + 5n));
      const jmp = Buffer.alloc(5);
      jmp[0] = 0xe9;
      jmp.writeInt32LE(rel, 1);
      const site = `site:0x${t.valueFn.toString(16)}:${Buffer.from(original.value).toString('hex')}:${jmp.toString('hex')}`;
      expect((await be.agent.request('swap tries=1 delay=1')).ok).toBe(true); // the Linux pid known: memory I/O through the kernel
      const worker = await busiestThread(pid);
      const answers = await frozen(`hp-stuck-${pid}`, 'tasks', [worker], async () => {
        const out: string[] = [];
        const ask = async (line: string): Promise<void> => {
          const r = await be.agent.request(line);
          out.push(r.ok ? 'ok' : `${r.error.code}: ${r.error.message}`);
        };
        await ask('suspend hold=1500');
        // The other threads were let go: the main thread answers, and `value` is still the old one.
        out.push(`run ${(await t.run())[0]}`);
        await ask(`swap tries=3 delay=1 hold=1000 ${site}`);
        const after = await be.read(t.valueFn, 5);
        out.push(after.ok && Buffer.from(after.value).equals(Buffer.from(original.value)) ? 'site unchanged' : 'site written');
        out.push(`run ${(await t.run())[0]}`);
        // Each stuck hold leaves its reader blocked in the read; past four, holds fail at once.
        for (let i = 0; i < 5 && !out.at(-1)?.includes('earlier holds'); i++) await ask('suspend hold=200');
        return out;
      });
      const stuck = (ms: number): string => `LIVE_HOLD_STUCK: thread T did not stop within the hold limit (${ms} ms; waited N ms): every thread was let go, nothing was written`;
      const seen = answers.map((a) => a.replace(/thread \d+/, 'thread T').replace(/waited \d+ ms/, 'waited N ms'));
      // The first hold may instead end in the wineserver's own wait: as it hands the context over it
      // reads the thread's debug registers through ptrace, which a frozen thread does not answer
      // (STATUS_ACCESS_DENIED; the server then no longer signals that thread: PROTOCOL.md, "A thread
      // the server lost"). Bounded too, and nothing written.
      expect([stuck(1500), 'LIVE_SUSPEND_FAILED: cannot read the context of thread T (Win32 error 5)']).toContain(seen[0]);
      expect(seen.slice(1, 5)).toEqual(['run 2', stuck(1000), 'site unchanged', 'run 2']);
      expect(seen.slice(5)).toEqual([
        ...Array<string>(4 - seen.slice(0, 5).filter((a) => a.includes('did not stop')).length).fill(stuck(200)),
        'LIVE_HOLD_STUCK: 4 earlier holds still wait for threads that did not stop: no hold until one of them has: nothing was written',
      ]);
      // Thawed, the thread reports its context: the abandoned reads complete and holds work again.
      let held = await be.agent.request('suspend');
      for (let i = 0; i < 50 && !held.ok; i++) {
        await new Promise((r) => setTimeout(r, 100));
        held = await be.agent.request('suspend');
      }
      if (!held.ok) throw new Error(`suspend after the thaw: ${held.error.code} ${held.error.message}`);
      expect((await be.agent.request('resume')).ok).toBe(true);
      const swapped = await be.agent.request(`swap tries=5 delay=1 ${site}`);
      if (!swapped.ok) throw new Error(`swap after the thaw: ${swapped.error.code} ${swapped.error.message}`);
      expect((await t.run())[0]).toBe(3);
    } finally {
      await be.close();
    }
    expect(await workerProgresses(t)).toBe(true);
    expect(await t.stop()).toBe(0);
  });
});
