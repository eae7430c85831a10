/**
 * The live backend: executes write-plan steps against a running Windows process through the
 * native agent (runtime/backends/win32-agent/agent.exe, protocol in PROTOCOL.md next to it).
 * On Linux the agent runs under Wine, in the caller's WINEPREFIX (it must be the prefix the
 * target runs in: one wineserver sees both); on Windows it runs directly.
 *
 * This is Node layer (it spawns a process), not portable core: the planner and the
 * transactional executor in runtime/ stay free of `node:` imports and reach the target only
 * through the `ProcessBackend` interface implemented here.
 *
 * Safety net: the session runs inside an agent transaction in guard mode. The executor undoes
 * failed plans itself, step by step; the agent's own undo log is replayed only when this
 * process goes away without `close()` (a crash, a kill), so a target is never left frozen or
 * half patched by a dead driver.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { err, ok, type HotpatchError, type Result } from '../../common/errors.ts';
import { asVa, hex, type Va } from '../../common/types.ts';
import type { ProcessBackend, ProtectionRun, TargetModule } from '../plan/backend.ts';
import { bytesToHex, hexToBytes, quiescentOwner, REL32_REACH, type QuiescentRange, type StepObservation, type VaRange, type WriteStep } from '../plan/write-plan.ts';

/** The committed agent binary (rebuilt and compared by .ci/check-agent.sh). */
export const AGENT_EXE = fileURLToPath(new URL('./win32-agent/agent.exe', import.meta.url));

/** The protocol version this driver speaks (`hello` reports the agent's). */
export const AGENT_PROTOCOL = 1;

/** How to start the agent. */
export interface AgentLaunch {
  /** Path of agent.exe; default AGENT_EXE. */
  readonly agentPath?: string;
  /** Environment for the agent (WINEPREFIX etc.); default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Run through this command (default `wine` on non-Windows hosts, none on Windows). */
  readonly wine?: string | null;
  /** Per-request time limit; a request that takes longer fails with LIVE_AGENT_TIMEOUT. */
  readonly timeoutMs?: number;
}

/** One agent answer: the JSON object it printed, `ok: true` already checked. */
export type AgentReply = Readonly<Record<string, unknown>>;

/** A running agent: requests go in as lines, answers come back in order. */
export interface AgentConnection {
  /** Sends one request line and waits for its answer; agent-side failures are error values. */
  request(line: string): Promise<Result<AgentReply>>;
  /**
   * Sends several lines at once without waiting in between (one pipe write), then collects
   * every answer. Used where round trips would stretch a pause.
   */
  requestMany(lines: readonly string[]): Promise<Result<AgentReply>[]>;
  /** Sends `quit` (after which the agent rolls back an uncommitted transaction) and waits for exit. */
  close(): Promise<void>;
  /** The agent's stderr so far (for diagnostics). */
  stderr(): string;
  /** What this agent build can do beyond protocol 1's requests (`hello`'s `features`; PROTOCOL.md). */
  readonly features: readonly string[];
}

interface Pending {
  readonly resolve: (r: Result<AgentReply>) => void;
  readonly timer: NodeJS.Timeout;
}

/** Turns an agent's JSON error object into an error value (codes pass through: LIVE_*). */
function replyError(o: Record<string, unknown>): HotpatchError {
  const code = typeof o['code'] === 'string' ? o['code'] : 'LIVE_PROTOCOL';
  const win32 = typeof o['win32'] === 'number' ? ` (Win32 error ${o['win32']})` : '';
  const message = (typeof o['message'] === 'string' ? o['message'] : 'agent failed without a message') + win32;
  return { code, message };
}

/**
 * Starts the agent (under Wine unless on Windows) and checks its protocol version. An agent
 * that exits before it answers `hello` is started once more: Wine sometimes fails to start a
 * process when many start at once in one prefix (exit status 1, nothing on stderr; seen twice
 * in a full suite's ~170 agent starts, never in 150 starts in a row alone), and an agent that
 * has not answered `hello` has made no request of the target, so a second start changes nothing
 * there. A second failure is reported with both.
 */
export async function startAgent(launch: AgentLaunch = {}): Promise<Result<AgentConnection>> {
  const first = await startAgentOnce(launch);
  if (first.ok || first.error.exitedBeforeHello !== true) return first;
  const second = await startAgentOnce(launch);
  return second.ok ? second : err('LIVE_AGENT_START', `${second.error.message}; started twice, the first time: ${first.error.message}`);
}

/** A start's failure; `exitedBeforeHello` when the agent's process ended before it answered `hello`. */
interface StartError extends HotpatchError {
  readonly exitedBeforeHello?: true;
}

async function startAgentOnce(launch: AgentLaunch): Promise<Result<AgentConnection, StartError>> {
  // HOTPATCH_AGENT_EXE runs another build of the agent (same protocol), e.g. to compare pauses.
  const exe = launch.agentPath ?? (process.env['HOTPATCH_AGENT_EXE'] || AGENT_EXE);
  const wine = launch.wine === undefined ? (process.platform === 'win32' ? null : 'wine') : launch.wine;
  const timeoutMs = launch.timeoutMs ?? 30_000;
  let child: ChildProcessWithoutNullStreams;
  try {
    child = spawn(wine ?? exe, wine === null ? [] : [exe], { env: launch.env ?? process.env, stdio: 'pipe' });
  } catch (e) {
    return err('LIVE_AGENT_START', `cannot start the agent: ${e instanceof Error ? e.message : String(e)}`);
  }
  // HOTPATCH_AGENT_TRACE=1 echoes every request and answer on stderr (for diagnosing a live apply).
  const trace = process.env['HOTPATCH_AGENT_TRACE'] === '1';
  const queue: Pending[] = [];
  let buffered = '';
  let stderrText = '';
  let gone: HotpatchError | null = null;
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));

  const failAll = (e: HotpatchError): void => {
    gone ??= e;
    for (const p of queue.splice(0)) {
      clearTimeout(p.timer);
      p.resolve({ ok: false, error: e });
    }
  };
  child.on('error', (e) => failAll({ code: 'LIVE_AGENT_START', message: `cannot run ${wine ?? exe}: ${e.message}` }));
  child.on('close', (code) =>
    failAll({ code: 'LIVE_AGENT_EXITED', message: `the agent exited (status ${code ?? 'signal'})${stderrText ? `: ${stderrText.trim().split('\n')[0]}` : ''}` }),
  );
  child.stdin.on('error', () => undefined); // EPIPE after the agent died: reported through 'close'
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    if (stderrText.length < 8192) stderrText += d;
  });
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => {
    buffered += d;
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line === '') continue;
      const p = queue.shift();
      if (trace) process.stderr.write(`agent< ${line.slice(0, 300)}\n`);
      if (p === undefined) continue; // nothing asked: ignore (never happens with a well-behaved agent)
      clearTimeout(p.timer);
      let o: unknown;
      try {
        o = JSON.parse(line);
      } catch {
        p.resolve(err('LIVE_PROTOCOL', `agent printed a line that is not JSON: ${line.slice(0, 80)}`));
        continue;
      }
      const rec = (typeof o === 'object' && o !== null ? o : {}) as Record<string, unknown>;
      p.resolve(rec['ok'] === true ? ok(rec) : { ok: false, error: replyError(rec) });
    }
  });

  const enqueue = (): Promise<Result<AgentReply>> =>
    new Promise((resolve) => {
      if (gone !== null) {
        resolve({ ok: false, error: gone });
        return;
      }
      const timer = setTimeout(() => {
        // Last resort: the agent never blocks on its own (remote calls and suspends are
        // bounded), so a silent agent is broken. Suspend counts outlive the agent, which is
        // why it resumes threads itself before anything else that can fail.
        failAll({ code: 'LIVE_AGENT_TIMEOUT', message: `the agent did not answer within ${timeoutMs} ms` });
        child.kill();
      }, timeoutMs);
      queue.push({ resolve, timer });
    });

  const features: string[] = [];
  const conn: AgentConnection = {
    features,
    request(line) {
      const r = enqueue();
      if (trace) process.stderr.write(`agent> ${line.slice(0, 300)}\n`);
      if (gone === null) child.stdin.write(`${line}\n`);
      return r;
    },
    requestMany(lines) {
      const rs = lines.map(() => enqueue());
      if (gone === null) child.stdin.write(lines.map((l) => `${l}\n`).join(''));
      return Promise.all(rs);
    },
    async close() {
      if (gone === null && child.exitCode === null) {
        child.stdin.write('quit\n');
        child.stdin.end();
      }
      const t = setTimeout(() => child.kill(), 10_000);
      await exited;
      clearTimeout(t);
    },
    stderr: () => stderrText,
  };
  const hello = await conn.request('hello');
  if (!hello.ok) {
    await conn.close();
    const error = { code: 'LIVE_AGENT_START', message: `the agent did not start: ${hello.error.message}` };
    return { ok: false, error: hello.error.code === 'LIVE_AGENT_EXITED' ? { ...error, exitedBeforeHello: true } : error };
  }
  if (hello.value['protocol'] !== AGENT_PROTOCOL) {
    await conn.close();
    return err('LIVE_AGENT_START', `agent protocol ${String(hello.value['protocol'])}, driver speaks ${AGENT_PROTOCOL}`);
  }
  const fs = hello.value['features'];
  if (Array.isArray(fs)) for (const f of fs) if (typeof f === 'string') features.push(f);
  return ok(conn);
}

/** A module name as one request token: as is, or `hex:...` when it contains spaces. */
function nameToken(name: string): string {
  return /\s/.test(name) ? `hex:${bytesToHex(new TextEncoder().encode(name))}` : name;
}

// ---- reply field helpers -----------------------------------------------------------------

function vaField(o: AgentReply, key: string): Result<Va> {
  const v = o[key];
  if (typeof v !== 'string' || !/^0x[0-9a-f]{1,16}$/i.test(v)) return err('LIVE_PROTOCOL', `agent reply lacks address field ${key}`);
  return ok(asVa(BigInt(v)));
}

function bytesField(o: AgentReply, key: string): Result<Uint8Array> {
  const v = o[key];
  const b = typeof v === 'string' ? hexToBytes(v) : null;
  return b === null ? err('LIVE_PROTOCOL', `agent reply lacks byte field ${key}`) : ok(b);
}

function runsField(o: AgentReply, key: string): Result<ProtectionRun[]> {
  const v = o[key];
  if (!Array.isArray(v)) return err('LIVE_PROTOCOL', `agent reply lacks run list ${key}`);
  const runs: ProtectionRun[] = [];
  for (const r of v as Record<string, unknown>[]) {
    const a = vaField(r, 'address');
    if (!a.ok) return a;
    if (typeof r['size'] !== 'number' || typeof r['protection'] !== 'number') return err('LIVE_PROTOCOL', `malformed run in ${key}`);
    runs.push({ address: a.value, size: r['size'], protection: r['protection'] });
  }
  return ok(runs);
}

// ---- the backend ---------------------------------------------------------------------------

/** What opening a live backend needs. */
export interface LiveTarget extends AgentLaunch {
  /** The target's Windows process id (under Wine: what the process itself reports, not the Linux pid). */
  readonly pid: number;
  /**
   * Module (DLL/EXE file name) to patch, e.g. `v1.dll`, or a chooser that picks one once the
   * process is open (e.g. the module whose identity matches a package).
   */
  readonly module: string | ModuleChooser;
}

/** Picks the module to patch from the open agent session; returns its file name. */
export type ModuleChooser = (agent: AgentConnection, pid: number) => Promise<Result<string>>;

/** A loaded module as `modules` lists it. */
export interface LoadedModule {
  readonly name: string;
  readonly base: Va;
  readonly size: number;
}

/** The modules loaded in the process the agent has open. */
export async function listModules(agent: AgentConnection): Promise<Result<LoadedModule[]>> {
  const r = await agent.request('modules');
  if (!r.ok) return r;
  const out: LoadedModule[] = [];
  for (const m of Array.isArray(r.value['modules']) ? (r.value['modules'] as Record<string, unknown>[]) : []) {
    const base = vaField(m, 'base');
    const size = vaField(m, 'size');
    if (!base.ok) return base;
    if (!size.ok) return size;
    if (typeof m['name'] === 'string') out.push({ name: m['name'], base: base.value, size: Number(size.value) });
  }
  return ok(out);
}

/** `ProcessBackend` over a live process, plus the agent session around it. */
/**
 * What one `swap` pause consisted of, as the agent reports it (PROTOCOL.md): the threads held,
 * the sites, the reads and stores it took, and the pause in parts (µs): hold (suspend,
 * contexts, thread list), check (RIPs and stacks), compare (read and compare), store (writes
 * and flush), resume.
 */
export interface PauseParts {
  /** Suspensions the pause took: 1, plus one per retry after a thread was caught in a site or a quiescent range (NaN from an agent that does not report it). */
  readonly attempts: number;
  readonly threads: number;
  readonly sites: number;
  readonly reads: number;
  readonly writes: number;
  readonly holdUs: number;
  readonly checkUs: number;
  readonly compareUs: number;
  readonly storeUs: number;
  readonly resumeUs: number;
  /** The hold in steps: the suspension call, the context reads (each waits until its thread has stopped), the check for unknown threads. */
  readonly suspendCallUs: number;
  readonly contextUs: number;
  readonly listUs: number;
  /** The stack reads of the check (one per thread) and their count. */
  readonly stackUs: number;
  readonly stackReads: number;
  /** Bytes moved inside the pause: the site reads (compare), the stores, the stack reads (NaN from an agent that does not report them). */
  readonly readBytes: number;
  readonly storeBytes: number;
  readonly stackBytes: number;
  /** Threads of the target and the agent raised to nice -20 for the pause (PROTOCOL.md, "The hold on a busy machine"); 0 when not allowed or off, NaN from an agent that does not report it. */
  readonly boosted: number;
  /** How the agent confirmed it knew every thread: `anchor`, `list` or `walk` (PROTOCOL.md, `swap`). */
  readonly confirmedBy: string;
  /**
   * How the pause moved memory (PROTOCOL.md, "Memory I/O under Wine"): `process_vm` (the stacks
   * and the sites through the Linux kernel, one call each), `server` (one ReadProcessMemory /
   * WriteProcessMemory per stack and per group of sites), `mixed`, `none` (no site), `?` (an
   * agent that does not report it).
   */
  readonly io: string;
}

const PAUSE_PART_KEYS = ['attempts', 'threads', 'sites', 'reads', 'writes', 'holdUs', 'checkUs', 'compareUs', 'storeUs', 'resumeUs', 'suspendCallUs', 'contextUs', 'listUs', 'stackUs', 'stackReads', 'readBytes', 'storeBytes', 'stackBytes', 'boosted'] as const;

export interface Win32AgentBackend extends ProcessBackend {
  readonly kind: 'win32-agent';
  readonly pid: number;
  /** Every pause so far: microseconds between suspending and resuming the target's threads, as the agent measured it. */
  readonly pauses: readonly number[];
  /** The parts of every `swap` pause so far (a pause of plain suspend/resume steps has none). */
  readonly pauseParts: readonly PauseParts[];
  /** Instruction pointers seen at the last successful suspend. */
  readonly lastThreadIps: readonly Va[];
  /** The underlying agent session, for requests beyond the backend contract (state records). */
  readonly agent: AgentConnection;
  /**
   * Ends the session keeping every change (commits the agent's guard transaction). Frees
   * were deferred to this point; the agent releases a region only when no thread references
   * it (RIP, registers, stack words) and keeps it allocated otherwise (see CloseReport).
   */
  close(): Promise<Result<CloseReport>>;
  /** Private committed allocations in [lo, hi) that start with `magic` (state records). */
  findMarkers(lo: Va, hi: Va, magic: Uint8Array): Promise<Result<Va[]>>;
  /**
   * Ends the session undoing everything done through it (the agent replays its log: original
   * bytes, protections, allocations, unwind registrations, suspended threads).
   */
  abandon(): Promise<void>;
}

/** What committing a session did with the regions whose free was deferred to commit. */
export interface CloseReport {
  /** Regions released. */
  readonly freed: number;
  /** Regions left allocated because a thread still referenced them (a leak, not a crash). */
  readonly kept: readonly Va[];
  /** How long the release check held the threads suspended, in microseconds (0 if nothing to free). */
  readonly releasePauseUs: number;
}

/** The ntdll functions unwind registration calls in the target, resolved once per session. */
interface UnwindFns {
  readonly add: Va;
  readonly del: Va;
}

/**
 * Starts an agent, attaches to `pid` and finds `module` in it. LIVE_MODULE_NOT_FOUND when
 * the process does not have the module loaded; LIVE_OPEN_FAILED when there is no such process.
 */
export async function openWin32Backend(target: LiveTarget): Promise<Result<Win32AgentBackend>> {
  if (typeof target.module === 'string' && !/^[^\\/:\x00-\x1f]+$/.test(target.module))
    return err('USAGE_MODULE', `module must be a file name like v1.dll, got ${JSON.stringify(target.module)}`);
  const started = await startAgent(target);
  if (!started.ok) return started;
  const agent = started.value;
  const fail = async (e: HotpatchError): Promise<Result<never>> => {
    await agent.close();
    return { ok: false, error: e };
  };
  const opened = await agent.request(`open ${target.pid}`);
  if (!opened.ok) {
    // Under Wine a process is only visible to programs of its own prefix (wineserver).
    const underWine = target.wine !== null && (target.wine !== undefined || process.platform !== 'win32');
    const hint = underWine && opened.error.code === 'LIVE_OPEN_FAILED' ? `; under Wine the target must run in the same WINEPREFIX (${(target.env ?? process.env)['WINEPREFIX'] ?? '~/.wine'})` : '';
    return fail({ ...opened.error, message: opened.error.message + hint });
  }
  let moduleName: string;
  if (typeof target.module === 'string') moduleName = target.module;
  else {
    const chosen = await target.module(agent, target.pid);
    if (!chosen.ok) return fail(chosen.error);
    moduleName = chosen.value;
  }
  const mod = await agent.request(`module ${nameToken(moduleName)}`);
  if (!mod.ok) return fail(mod.error);
  const base = vaField(mod.value, 'base');
  const size = vaField(mod.value, 'size');
  if (!base.ok) return fail(base.error);
  if (!size.ok) return fail(size.error);
  const name = typeof mod.value['name'] === 'string' ? mod.value['name'] : moduleName;
  const begun = await agent.request('begin guard');
  if (!begun.ok) return fail(begun.error);
  const path = typeof mod.value['path'] === 'string' ? mod.value['path'] : null;
  const module: TargetModule = { base: base.value, sizeOfImage: Number(size.value), name, path };
  return ok(makeBackend(agent, target.pid, module));
}

/**
 * Another module of the process `primary` is attached to, on the same agent session and so
 * in the same guard transaction and undo log (for bundles: several modules, one rollback).
 * Plan and execute through it as through `primary`; end the session through `primary` only
 * (close or abandon), which commits or rolls back every module's steps together.
 */
export async function openSiblingBackend(primary: Win32AgentBackend, moduleName: string): Promise<Result<Win32AgentBackend>> {
  const mod = await primary.agent.request(`module ${nameToken(moduleName)}`);
  if (!mod.ok) return mod;
  const base = vaField(mod.value, 'base');
  const size = vaField(mod.value, 'size');
  if (!base.ok) return base;
  if (!size.ok) return size;
  const name = typeof mod.value['name'] === 'string' ? mod.value['name'] : moduleName;
  return ok(makeBackend(primary.agent, primary.pid, { base: base.value, sizeOfImage: Number(size.value), name }));
}

/** What one backend keeps between steps: its pauses, the last thread IPs, the resolved unwind functions. */
interface SessionState {
  readonly agent: AgentConnection;
  readonly pid: number;
  readonly pauses: number[];
  readonly pauseParts: PauseParts[];
  lastThreadIps: Va[];
  unwind: UnwindFns | null;
}

/** `ntdll!RtlAddFunctionTable` and `RtlDeleteFunctionTable` in the target, resolved once per backend. */
async function unwindFns(st: SessionState): Promise<Result<UnwindFns>> {
  if (st.unwind !== null) return ok(st.unwind);
  const [a, d] = await st.agent.requestMany(['proc ntdll.dll RtlAddFunctionTable', 'proc ntdll.dll RtlDeleteFunctionTable']);
  if (a === undefined || !a.ok) return a ?? err('LIVE_PROTOCOL', 'no answer');
  if (d === undefined || !d.ok) return d ?? err('LIVE_PROTOCOL', 'no answer');
  const add = vaField(a.value, 'address');
  const del = vaField(d.value, 'address');
  if (!add.ok) return add;
  if (!del.ok) return del;
  st.unwind = { add: add.value, del: del.value };
  return ok(st.unwind);
}

/** Registers or deregisters a function table in the target (`call` with its undo), checking the BOOLEAN the Rtl function returns. */
async function unwindStep(st: SessionState, step: Extract<WriteStep, { op: 'register-unwind' | 'deregister-unwind' }>): Promise<Result<StepObservation>> {
  const f = await unwindFns(st);
  if (!f.ok) return f;
  const { add, del } = f.value;
  const withTable = `${hex(step.table)} ${hex(step.entryCount)} ${hex(step.base)} 0`;
  const line =
    step.op === 'register-unwind'
      ? `call ${hex(add)} ${withTable} undo ${hex(del)} ${hex(step.table)} 0 0 0`
      : `call ${hex(del)} ${hex(step.table)} 0 0 0 undo ${hex(add)} ${withTable}`;
  const what = step.op === 'register-unwind' ? 'RtlAddFunctionTable' : 'RtlDeleteFunctionTable';
  const r = await st.agent.request(line);
  if (!r.ok) return r;
  const res = vaField(r.value, 'result');
  if (!res.ok) return res;
  if ((res.value & 0xffn) === 0n) return err('LIVE_UNWIND_FAILED', `${what} returned FALSE in process ${st.pid}`);
  return ok({});
}

/** `suspend`: holds every thread, none in an avoided range; records their IPs. */
async function suspendStep(st: SessionState, step: Extract<WriteStep, { op: 'suspend-threads' }>): Promise<Result<StepObservation>> {
  // `suspend` checks RIPs only: quiescent ranges (format 2.4) need `swap`'s stack check.
  if ((step.quiescent ?? []).length > 0) return err('LIVE_BAD_REQUEST', 'quiescent ranges are checked only by swap (one pause with the redirects): nothing was written');
  const ranges = step.avoid.filter((a) => a.size > 0).map((a) => `avoid:${hex(a.start)}:${hex(a.size)}`);
  const r = await st.agent.request(['suspend', ...ranges, `tries=${Math.max(1, step.attempts)}`, `delay=${step.retryDelayMs}`].join(' '));
  if (!r.ok) return r;
  const threads = Array.isArray(r.value['threads']) ? (r.value['threads'] as Record<string, unknown>[]) : [];
  const ips: Va[] = [];
  for (const t of threads) {
    const ip = vaField(t, 'rip');
    if (!ip.ok) return ip;
    ips.push(ip.value);
  }
  st.lastThreadIps = ips;
  return ok({ threadIps: ips });
}

/** `free`: reads what its undo needs (contents and protections), then frees (deferred to commit by the agent). */
async function freeStep(st: SessionState, step: Extract<WriteStep, { op: 'free' }>): Promise<Result<StepObservation>> {
  const [runs, bytes] = await st.agent.requestMany([`protections ${hex(step.address)} ${hex(step.size)}`, `read ${hex(step.address)} ${hex(step.size)}`]);
  if (runs === undefined || !runs.ok) return runs ?? err('LIVE_PROTOCOL', 'no answer');
  if (bytes === undefined || !bytes.ok) return bytes ?? err('LIVE_PROTOCOL', 'no answer');
  const prot = runsField(runs.value, 'runs');
  const content = bytesField(bytes.value, 'bytes');
  if (!prot.ok) return prot;
  if (!content.ok) return content;
  const r = await st.agent.request(`free ${hex(step.address)}`);
  if (!r.ok) return r;
  return ok({ freed: { bytes: content.value, protection: prot.value } });
}

/** One write-plan step as one agent request (or two, for `free`). */
async function executeStep(st: SessionState, step: WriteStep): Promise<Result<StepObservation>> {
  const { agent } = st;
  switch (step.op) {
    case 'allocate': {
      const r = await agent.request(`alloc-at ${hex(step.address)} ${hex(step.size)} ${hex(step.protection)}`);
      return r.ok ? ok({}) : r;
    }
    case 'write': {
      const r = await agent.request(`write ${hex(step.address)} ${bytesToHex(step.bytes)}`);
      if (!r.ok) return r;
      const prev = bytesField(r.value, 'previous');
      return prev.ok ? ok({ previousBytes: prev.value }) : prev;
    }
    case 'protect': {
      const r = await agent.request(`protect ${hex(step.address)} ${hex(step.size)} ${hex(step.protection)}`);
      if (!r.ok) return r;
      const prev = runsField(r.value, 'previous');
      return prev.ok ? ok({ previousProtection: prev.value }) : prev;
    }
    case 'flush': {
      const r = await agent.request(`flush ${hex(step.address)} ${hex(step.size)}`);
      return r.ok ? ok({}) : r;
    }
    case 'register-unwind':
    case 'deregister-unwind':
      return unwindStep(st, step);
    case 'suspend-threads':
      return suspendStep(st, step);
    case 'redirect': {
      const r = await agent.request(`redirect ${hex(step.address)} ${bytesToHex(step.expected)} ${bytesToHex(step.bytes)}`);
      return r.ok ? ok({}) : r;
    }
    case 'resume-threads': {
      const r = await agent.request('resume');
      if (!r.ok) return r;
      const us = r.value['pausedUs'];
      if (typeof us === 'number') st.pauses.push(us);
      return ok({});
    }
    case 'free':
      return freeStep(st, step);
  }
}

/** A suspended span (suspend, redirects, flushes, resume) as one `swap` request: one pause, one round trip. */
async function executeSpan(st: SessionState, steps: readonly WriteStep[]): Promise<Result<StepObservation[]>> {
  const suspend = steps[0];
  if (suspend?.op !== 'suspend-threads') return err('LIVE_BAD_REQUEST', 'a suspended span starts with suspend-threads');
  const sites: string[] = [];
  for (const s of steps) if (s.op === 'redirect') sites.push(`site:${hex(s.address)}:${bytesToHex(s.expected)}:${bytesToHex(s.bytes)}`);
  // A span without redirects is one `swap` without sites (one pause that only checks RIPs)
  // when the agent can take it; an earlier build (HOTPATCH_AGENT_EXE) gets the steps one by one.
  if (sites.length === 0 && !st.agent.features.includes('swap-without-sites')) {
    const out: StepObservation[] = [];
    for (const s of steps) {
      const r = await executeStep(st, s);
      if (!r.ok) return r;
      out.push(r.value);
    }
    return ok(out);
  }
  const avoid = suspend.avoid.filter((a) => a.size > 0).map((a) => `avoid:${hex(a.start)}:${hex(a.size)}`);
  const quiescent = suspend.quiescent ?? [];
  if (quiescent.length > 0 && !st.agent.features.includes('quiescent'))
    return err('LIVE_BAD_REQUEST', `the package lists ${quiescent.length} quiescent range(s) (format 2.4) and this agent build cannot check them (no "quiescent" feature): nothing was written`);
  const quiet = quiescent.map((q) => `quiet:${hex(q.start)}:${hex(q.size)}`);
  const r = await st.agent.request(['swap', `tries=${Math.max(1, suspend.attempts)}`, `delay=${suspend.retryDelayMs}`, ...avoid, ...quiet, ...sites].join(' '));
  if (!r.ok) return r.error.code === 'LIVE_THREAD_IN_OLD_CALLER' ? err(r.error.code, namedQuiescent(r.error.message, quiescent)) : r;
  const us = r.value['pausedUs'];
  if (typeof us === 'number') st.pauses.push(us);
  const parts = Object.fromEntries(PAUSE_PART_KEYS.map((k) => [k, typeof r.value[k] === 'number' ? (r.value[k] as number) : NaN]));
  st.pauseParts.push({ ...parts, confirmedBy: typeof r.value['confirmedBy'] === 'string' ? r.value['confirmedBy'] : '?', io: typeof r.value['io'] === 'string' ? r.value['io'] : '?' } as unknown as PauseParts);
  const ips: Va[] = [];
  for (const x of Array.isArray(r.value['rips']) ? (r.value['rips'] as unknown[]) : []) if (typeof x === 'string' && /^0x[0-9a-f]+$/i.test(x)) ips.push(asVa(BigInt(x)));
  st.lastThreadIps = ips;
  return ok(steps.map((s) => (s.op === 'suspend-threads' ? { threadIps: ips } : {})));
}

/**
 * The agent's LIVE_THREAD_IN_OLD_CALLER message with the function the range is the old body of
 * (the agent knows addresses only).
 */
function namedQuiescent(message: string, quiescent: readonly QuiescentRange[]): string {
  const m = /quiescent range (0x[0-9a-f]+)\+/.exec(message);
  const q = m === null ? undefined : quiescent.find((x) => x.start === asVa(BigInt(m[1]!)));
  const who = q === undefined ? 'an old caller' : quiescentOwner(q.name);
  return `${message}: ${who} calls a changed function whose new entry reads arguments it does not pass; nothing was written, the process runs on unchanged`;
}

/** The commit that ends the session: deferred frees released where no thread references them. */
async function commitSession(agent: AgentConnection, pid: number): Promise<Result<CloseReport>> {
  const r = await agent.request('commit');
  await agent.close();
  if (!r.ok) return r;
  const kept: Va[] = [];
  for (const k of Array.isArray(r.value['kept']) ? (r.value['kept'] as unknown[]) : []) if (typeof k === 'string') kept.push(asVa(BigInt(k)));
  const freed = typeof r.value['freed'] === 'number' ? r.value['freed'] : 0;
  const us = typeof r.value['pausedUs'] === 'number' ? r.value['pausedUs'] : 0;
  if (typeof r.value['freeFailures'] === 'number' && r.value['freeFailures'] > 0)
    return err('LIVE_FREE_FAILED', `${r.value['freeFailures']} deferred region frees failed in process ${pid}`);
  return ok({ freed, kept, releasePauseUs: us });
}

function makeBackend(agent: AgentConnection, pid: number, module: TargetModule): Win32AgentBackend {
  const st: SessionState = { agent, pid, pauses: [], pauseParts: [], lastThreadIps: [], unwind: null };
  let closed = false;
  const backend: Win32AgentBackend = {
    kind: 'win32-agent',
    pid,
    module,
    pauses: st.pauses,
    pauseParts: st.pauseParts,
    get lastThreadIps() {
      return st.lastThreadIps;
    },
    agent,
    async read(address, size) {
      const r = await agent.request(`read ${hex(address)} ${hex(size)}`);
      return r.ok ? bytesField(r.value, 'bytes') : r;
    },
    async queryProtection(address, size) {
      const r = await agent.request(`protections ${hex(address)} ${hex(size)}`);
      return r.ok ? runsField(r.value, 'runs') : r;
    },
    async findFreeRegion(near: VaRange, size: number) {
      const end = near.start + BigInt(near.size);
      // Every byte of the region within rel32 reach of every byte of `near`.
      const lo = end > REL32_REACH ? end - REL32_REACH : 0n;
      const hi = near.start + REL32_REACH;
      const r = await agent.request(`find-free ${hex(lo)} ${hex(hi)} ${hex(size)} ${hex(end)}`);
      if (!r.ok) return r.error.code === 'LIVE_NO_REGION' ? err('PLAN_NO_REGION', r.error.message) : r;
      return vaField(r.value, 'address');
    },
    async resolveImport(dll, name, ordinal) {
      const sym = name ?? (ordinal === null ? null : `#${ordinal}`);
      if (sym === null || /\s/.test(sym) || dll === '') return err('PLAN_IMPORT', `cannot resolve import ${dll}!${String(sym)}`);
      const r = await agent.request(`proc ${nameToken(dll)} ${sym}`);
      if (!r.ok) return err('PLAN_IMPORT', `cannot resolve ${dll}!${sym} in process ${pid}: ${r.error.message}`);
      return vaField(r.value, 'address');
    },
    execute: (step) => executeStep(st, step),
    executeSpan: (steps) => executeSpan(st, steps),
    async close() {
      if (closed) return err('LIVE_BAD_REQUEST', 'session already closed');
      closed = true;
      return commitSession(agent, pid);
    },
    async findMarkers(lo, hi, magic) {
      const r = await agent.request(`find-marker ${hex(lo)} ${hex(hi)} ${bytesToHex(magic)}`);
      if (!r.ok) return r;
      const out: Va[] = [];
      for (const a of Array.isArray(r.value['regions']) ? (r.value['regions'] as unknown[]) : []) if (typeof a === 'string') out.push(asVa(BigInt(a)));
      return ok(out);
    },
    async abandon() {
      if (closed) return;
      closed = true;
      await agent.close(); // `quit` inside the guard transaction: the agent rolls everything back
    },
  };
  return backend;
}
