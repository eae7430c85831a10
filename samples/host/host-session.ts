/**
 * Drives samples/bin/host.exe under Wine over its stdin/stdout protocol (PROTOCOL.md):
 * start it on a scenario DLL, read rounds of hp_run output, ask for more rounds, quit.
 * Used by the sample tests, the expected-output recorder and the live-patching tests.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { resolve } from 'node:path';
import { err, ok, type Result } from '../../common/errors.ts';
import { startWine, toWinePath } from '../wine.ts';
import { HOST_EXE } from '../scenarios.ts';

/** One distinct hp_run output the worker thread saw, by hash. */
export interface WorkerOutput {
  /** FNV-1a (32-bit) of the exact output text; compare with fnv1a(expected text). */
  readonly fnv1a: number;
  readonly calls: number;
}

/** The worker thread's counters at the end of a round (only with --worker). */
export interface WorkerReport {
  readonly calls: number;
  /** Calls whose hp_run failed (-1), plus outputs beyond the 16 distinct ones tracked. */
  readonly errors: number;
  /** In the order the worker first saw them. */
  readonly outputs: readonly WorkerOutput[];
}

/** One `round <n>` ... `end <n>` block. */
export interface HostRound {
  readonly round: number;
  /** hp_run's lines, without newlines. */
  readonly lines: readonly string[];
  /** hp_run's output as it wrote it: each line followed by `\n` (the expected/*.txt form). */
  readonly output: string;
  /** Set when hp_run itself failed (the `error ...` line inside the round). */
  readonly error?: string;
  readonly worker?: WorkerReport;
}

/** A running host process. */
export interface HostSession {
  /** The Windows process id (GetCurrentProcessId), which `hotpatch live --pid` takes. */
  readonly windowsPid: number;
  /** Base address the DLL was loaded at (the HMODULE). */
  readonly moduleBase: bigint;
  /** The DLL's Windows path as GetModuleFileName reports it. */
  readonly moduleFile: string;
  /** hp_name(). */
  readonly name: string;
  /** The DLLs loaded with `also` (in order): base, Windows path, hp_name(). Rounds run theirs after the first's. */
  readonly also: ReadonlyArray<{ readonly base: bigint; readonly file: string; readonly name: string }>;
  /** Round 1, which the host runs on its own after loading. */
  readonly first: HostRound;
  /** Asks for one more round (`run`) and returns it. */
  run(): Promise<Result<HostRound>>;
  /** Sends `quit`, waits for the exit, returns the exit code. */
  quit(): Promise<Result<number>>;
  /** Kills the Wine process (cleanup after a failed test). */
  kill(): void;
  /** The underlying Wine child process. */
  readonly child: ChildProcessWithoutNullStreams;
}

/** FNV-1a 32-bit over the UTF-8 bytes of `text`: the hash host.exe reports for worker outputs. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(text)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h >>> 0;
}

/** How to start the host: --worker, --also DLLs (Unix paths), another host.exe, the per-line timeout. */
export interface HostOptions {
  readonly worker?: boolean;
  readonly also?: readonly string[];
  readonly hostExe?: string;
  readonly timeoutMs?: number;
}

/** Line reader over a child's stdout with a per-line timeout. */
class Lines {
  private buf = '';
  private readonly queue: string[] = [];
  private waiter: ((line: string | undefined) => void) | undefined;
  private closed = false;

  constructor(child: ChildProcessWithoutNullStreams) {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      this.buf += chunk;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        this.push(this.buf.slice(0, nl).replace(/\r$/, ''));
        this.buf = this.buf.slice(nl + 1);
      }
    });
    child.stdout.on('end', () => {
      this.closed = true;
      this.wake(undefined);
    });
  }

  private push(line: string): void {
    if (this.waiter) this.wake(line);
    else this.queue.push(line);
  }

  private wake(line: string | undefined): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.(line);
  }

  /** The next line, or undefined at end of output or after `timeoutMs`. */
  next(timeoutMs: number): Promise<string | undefined> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((done) => {
      const timer = setTimeout(() => this.wake(undefined), timeoutMs);
      this.waiter = (line) => {
        clearTimeout(timer);
        done(line);
      };
    });
  }
}

const WORKER_LINE = /^worker calls=(\d+) errors=(\d+) outputs=(\d+)$/;
const WORKER_OUTPUT_LINE = /^worker output fnv1a=([0-9a-f]{8}) calls=(\d+)$/;

/**
 * Starts host.exe on `dllPath` (a Unix path) and reads its header and round 1. Errors are
 * `SAMPLES_HOST_*` values carrying the host's stderr, never a hang: every line has a timeout.
 */
export async function startHost(dllPath: string, opts: HostOptions = {}): Promise<Result<HostSession>> {
  // A Wine start can fail before the host runs a single line of its own (seen on a loaded
  // machine: the process ends at once, no output, no stderr with WINEDEBUG=-all). That is
  // the launcher failing, not the host: try again, twice. Anything after the host printed
  // its pid is never retried, so no failure of the host or of a patch is masked.
  let r = await startHostOnce(dllPath, opts);
  for (let attempt = 1; attempt < 3 && !r.ok && r.error.code === 'SAMPLES_HOST_NOT_STARTED'; attempt++) r = await startHostOnce(dllPath, opts);
  return r;
}

async function startHostOnce(dllPath: string, opts: HostOptions): Promise<Result<HostSession>> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const args = [toWinePath(resolve(dllPath)), ...(opts.also ?? []).flatMap((p) => ['--also', toWinePath(resolve(p))]), ...(opts.worker ? ['--worker'] : [])];
  const child = startWine(opts.hostExe ?? HOST_EXE, args);
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c: string) => {
    stderr += c;
  });
  // 'exit', not 'close': the first Wine process of a prefix starts Wine's services, which
  // inherit its stdout and can hold the pipe open for seconds after the host has exited.
  const exited = new Promise<number>((done) => child.on('exit', (code, signal) => done(code ?? (signal ? 128 : 1))));
  // A host that died (a test may crash it on purpose) closes its stdin: a later write fails
  // with EPIPE, asynchronously. The failure shows as the missing reply; unlistened, the error
  // event would be an uncaught exception that fails the whole test run.
  child.stdin.on('error', () => undefined);
  const lines = new Lines(child);
  const fail = (what: string): { ok: false; error: { code: string; message: string } } => {
    const tail = stderr.trim().split('\n').slice(-2).join(' | ');
    return err('SAMPLES_HOST_PROTOCOL', `host.exe ${args.join(' ')}: ${what}${tail ? ` (stderr: ${tail})` : ''}`);
  };
  const expect = async (re: RegExp, what: string): Promise<RegExpExecArray | string> => {
    const line = await lines.next(timeoutMs);
    if (line === undefined) return `expected ${what}, got end of output or timeout`;
    const m = re.exec(line);
    return m ?? `expected ${what}, got "${line}"`;
  };

  const readRound = async (): Promise<Result<HostRound>> => {
    const head = await expect(/^round (\d+)$/, '"round <n>"');
    if (typeof head === 'string') return fail(head);
    const round = Number(head[1]);
    const body: string[] = [];
    let error: string | undefined;
    for (;;) {
      const line = await lines.next(timeoutMs);
      if (line === undefined) return fail(`round ${round} ended early`);
      if (line === `end ${round}`) break;
      if (body.length === 0 && line.startsWith('error hp_run')) error = line;
      else body.push(line);
    }
    let worker: WorkerReport | undefined;
    let line = await lines.next(timeoutMs);
    const w = line === undefined ? null : WORKER_LINE.exec(line);
    if (w) {
      const outputs: WorkerOutput[] = [];
      for (let i = 0; i < Number(w[3]); i++) {
        const o = await expect(WORKER_OUTPUT_LINE, '"worker output ..."');
        if (typeof o === 'string') return fail(o);
        outputs.push({ fnv1a: parseInt(o[1]!, 16), calls: Number(o[2]) });
      }
      worker = { calls: Number(w[1]), errors: Number(w[2]), outputs };
      line = await lines.next(timeoutMs);
    }
    if (line !== 'ready') return fail(`expected "ready" after round ${round}, got ${line === undefined ? 'end of output' : `"${line}"`}`);
    const output = body.map((l) => `${l}\n`).join('');
    return ok({ round, lines: body, output, ...(error === undefined ? {} : { error }), ...(worker === undefined ? {} : { worker }) });
  };

  const pid = await expect(/^pid (\d+)$/, '"pid <n>"');
  if (typeof pid === 'string') {
    // End of output: did the process end too? (Its exit event may trail the closed pipe.)
    let timer: ReturnType<typeof setTimeout> | undefined;
    const code = await Promise.race([exited, new Promise<null>((done) => (timer = setTimeout(() => done(null), 2_000)))]);
    clearTimeout(timer);
    child.kill('SIGKILL');
    if (code !== null && stderr.trim() === '') {
      return err('SAMPLES_HOST_NOT_STARTED', `host.exe ${args.join(' ')}: Wine ended the process (exit ${code}) before its first line`);
    }
    return fail(pid);
  }
  const mod = await expect(/^module 0x([0-9a-f]+) (.*)$/, '"module <base> <file>"');
  if (typeof mod === 'string') {
    child.kill('SIGKILL');
    return fail(mod);
  }
  const name = await expect(/^name (.*)$/, '"name <scenario>"');
  if (typeof name === 'string') {
    child.kill('SIGKILL');
    return fail(name);
  }
  const also: Array<{ base: bigint; file: string; name: string }> = [];
  for (let i = 0; i < (opts.also ?? []).length; i++) {
    const m = await expect(/^also 0x([0-9a-f]+) (.*)$/, '"also <base> <file>"');
    const n = typeof m === 'string' ? m : await expect(/^also-name (.*)$/, '"also-name <scenario>"');
    if (typeof m === 'string' || typeof n === 'string') {
      child.kill('SIGKILL');
      return fail(typeof m === 'string' ? m : (n as string));
    }
    also.push({ base: BigInt(`0x${m[1]}`), file: m[2]!, name: n[1]! });
  }
  const first = await readRound();
  if (!first.ok) {
    child.kill('SIGKILL');
    return first;
  }
  const session: HostSession = {
    windowsPid: Number(pid[1]),
    moduleBase: BigInt(`0x${mod[1]}`),
    moduleFile: mod[2]!,
    name: name[1]!,
    also,
    first: first.value,
    child,
    run: async () => {
      child.stdin.write('run\n');
      return readRound();
    },
    quit: async () => {
      child.stdin.write('quit\n');
      child.stdin.end();
      const bye = await lines.next(timeoutMs);
      if (bye !== 'bye') {
        child.kill('SIGKILL');
        return fail(`expected "bye" after quit, got ${bye === undefined ? 'end of output or timeout' : `"${bye}"`}`);
      }
      // The exit itself can stall (a busy or restarting wineserver): bounded like every read.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const code = await Promise.race([exited, new Promise<undefined>((done) => (timer = setTimeout(() => done(undefined), timeoutMs)))]);
      clearTimeout(timer);
      if (code === undefined) {
        child.kill('SIGKILL');
        return fail(`no exit within ${timeoutMs} ms after "bye"`);
      }
      return ok(code);
    },
    kill: () => {
      child.kill('SIGKILL');
    },
  };
  return ok(session);
}

/** Starts the host on `dllPath`, takes round 1's output and quits (exit code must be 0). */
export async function runHostOnce(dllPath: string, opts: { hostExe?: string; timeoutMs?: number } = {}): Promise<Result<HostRound>> {
  const s = await startHost(dllPath, opts);
  if (!s.ok) return s;
  const q = await s.value.quit();
  if (!q.ok) return q;
  if (q.value !== 0) return err('SAMPLES_HOST_EXIT', `host.exe on ${dllPath} exited with ${q.value}`);
  return ok(s.value.first);
}

/**
 * Ends every session in `hosts` (emptying the array): `quit`, or a kill when quit fails.
 * Returns each host's exit code, null for one that had to be killed, so a test can assert
 * the process survived what it did to it.
 */
export async function endHosts(hosts: HostSession[]): Promise<Array<number | null>> {
  const codes: Array<number | null> = [];
  for (const h of hosts.splice(0)) {
    const q = await h.quit();
    if (!q.ok) h.kill();
    codes.push(q.ok ? q.value : null);
  }
  return codes;
}
