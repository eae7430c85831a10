/**
 * Running Windows programs under Wine for the samples' host, the tests and the bench: a
 * private prefix (created once, ~5 s), quiet debug output, and no Mono/Gecko install prompts.
 *
 * Note: the Windows pid a program prints (GetCurrentProcessId) is not its Linux pid.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams, type SpawnSyncReturns } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

/** The prefix tests use unless WINEPREFIX is set. */
export const WINE_PREFIX = process.env['WINEPREFIX'] ?? join(tmpdir(), `hotpatch-wineprefix-${process.getuid?.() ?? 0}`);

export function wineEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    WINEPREFIX: WINE_PREFIX,
    WINEDEBUG: '-all',
    WINEDLLOVERRIDES: 'mscoree,mshtml=',
  };
}

let prefixReady = false;

/** Written after wineboot finished: system.reg only appears when wineserver saves it. */
const READY_MARK = '.hotpatch-prefix-ready';

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Creates the prefix on first use (wineboot), so later starts take ~1 s. Test files run in
 * parallel processes: a lock folder makes one of them create the prefix while the others
 * wait for it, instead of several wineboots racing in one prefix.
 */
export function ensureWinePrefix(): void {
  if (prefixReady) return;
  const ready = (): boolean => existsSync(join(WINE_PREFIX, READY_MARK)) || existsSync(join(WINE_PREFIX, 'system.reg'));
  const lock = `${WINE_PREFIX}.lock`;
  const deadline = Date.now() + 240_000;
  while (!ready()) {
    let mine = false;
    try {
      mkdirSync(lock);
      mine = true;
    } catch {
      // Someone else is creating it; a lock left by a killed run goes stale after 5 minutes.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 300_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        // the lock went away meanwhile
      }
    }
    if (mine) {
      try {
        if (!ready()) {
          mkdirSync(WINE_PREFIX, { recursive: true });
          const r = spawnSync('wineboot', ['-i'], { env: wineEnv(), stdio: 'ignore', timeout: 180_000 });
          if (r.status !== 0) throw new Error(`wineboot failed in ${WINE_PREFIX} (status ${r.status})`);
          writeFileSync(join(WINE_PREFIX, READY_MARK), '');
        }
      } finally {
        rmSync(lock, { recursive: true, force: true });
      }
      break;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for another process to create ${WINE_PREFIX}`);
    sleepMs(250);
  }
  prefixReady = true;
}

/**
 * Runs `exe args...` under Wine to completion. stdout/stderr go through temp files, not
 * pipes: when this is the first Wine process of a session, Wine's background services
 * inherit its output handles and would keep pipes open (and spawnSync waiting) for seconds
 * after the program exited.
 */
export function runWine(exe: string, args: readonly string[], opts: { input?: string; timeoutMs?: number; cwd?: string } = {}): SpawnSyncReturns<string> {
  ensureWinePrefix();
  const dir = mkdtempSync(join(tmpdir(), 'hotpatch-wine-run-'));
  const outFd = openSync(join(dir, 'stdout'), 'w+');
  const errFd = openSync(join(dir, 'stderr'), 'w+');
  try {
    const r = spawnSync('wine', [exe, ...args], {
      env: wineEnv(),
      encoding: 'utf8',
      input: opts.input ?? '',
      stdio: ['pipe', outFd, errFd],
      timeout: opts.timeoutMs ?? 60_000,
      ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
    });
    const stdout = readFileSync(join(dir, 'stdout'), 'utf8');
    const stderr = readFileSync(join(dir, 'stderr'), 'utf8');
    return { ...r, stdout, stderr, output: [null, stdout, stderr] };
  } finally {
    closeSync(outFd);
    closeSync(errFd);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Starts `exe args...` under Wine and returns the live child (stdin/stdout piped). */
export function startWine(exe: string, args: readonly string[], opts: { cwd?: string } = {}): ChildProcessWithoutNullStreams {
  ensureWinePrefix();
  return spawn('wine', [exe, ...args], { env: wineEnv(), stdio: 'pipe', ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }) });
}

/**
 * The Windows form of a Unix path, through Wine's Z: drive (`/a/b` -> `Z:\a\b`). Wine maps
 * Z: to / in every prefix, so this needs no `winepath` process.
 */
export function toWinePath(unixPath: string): string {
  if (!unixPath.startsWith('/')) throw new Error(`toWinePath: not an absolute path: ${unixPath}`);
  return `Z:${unixPath.replace(/\//g, '\\')}`;
}

/**
 * Keeps this prefix's wineserver alive for `seconds` after its last process exits, so the
 * next Wine start takes ~0.1 s instead of ~1.3 s. It ends by itself; nothing to stop (and
 * `wineserver -k` would also kill other tests' processes in the shared prefix). When a
 * server is already running for the prefix, the new one just exits.
 */
export function keepWineServer(seconds = 30): void {
  ensureWinePrefix();
  spawnSync('wineserver', [`-p${seconds}`], { env: wineEnv(), stdio: 'ignore', timeout: 30_000 });
  // The first Wine process of a session starts Wine's background services, and they inherit
  // its stdout/stderr: a test whose pipes they hold waits seconds for 'close' (spawnSync
  // waits for it too). Start them here from a process with no pipes.
  spawnSync('wine', ['cmd.exe', '/c', 'exit'], { env: wineEnv(), stdio: 'ignore', timeout: 60_000 });
}
