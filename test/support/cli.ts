/**
 * Test support: the hotpatch command line as a separate process, so exit codes, stdout and
 * stderr are the real ones. It runs the TypeScript sources (cli/main.ts through tsx), not
 * bin/hotpatch.cjs, whose dist/ may be older than the sources under test; the compiled CLI is
 * tested as a user gets it by test/package.test.ts (npm pack, install, run).
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

/** What a CLI run produced. */
export interface CliRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// tsx's loader by absolute URL: a bare `--import tsx` resolves from the child's cwd.
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const BIN_ARGS = ['--import', TSX, join(ROOT, 'cli/main.ts')];

/** Runs the CLI to completion (blocking; killed after `timeoutMs`). */
export function runHotpatch(args: readonly string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): CliRun {
  const r = spawnSync(process.execPath, [...BIN_ARGS, ...args], { encoding: 'utf8', timeout: opts.timeoutMs ?? 120_000, ...(opts.env === undefined ? {} : { env: opts.env }) });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Runs the CLI without blocking the event loop: a Wine host started by the test must keep
 * being served (its pipes read) while the command runs.
 */
export function runHotpatchAsync(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<CliRun> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [...BIN_ARGS, ...args], env === undefined ? {} : { env });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/**
 * Runs the CLI with nobody reading its stdout: the pipe's read end is closed before the
 * command starts writing (`hotpatch pe X | head -0`), so its writes fail with EPIPE. Only
 * stderr and the exit status are seen.
 */
export function runHotpatchReaderGone(args: readonly string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [...BIN_ARGS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout.destroy();
    let stderr = '';
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('close', (status) => resolve({ status, stdout: '', stderr }));
  });
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs the CLI on a pseudo-terminal (util-linux `script`, package bsdutils): stdin, stdout and
 * stderr are a TTY, as in an interactive shell. Both streams arrive merged in `stdout`, with
 * the terminal's CRLF line ends.
 */
export function runHotpatchOnTty(args: readonly string[], env: NodeJS.ProcessEnv = process.env): CliRun {
  const line = [process.execPath, ...BIN_ARGS, ...args].map(shellQuote).join(' ');
  const r = spawnSync('script', ['-qec', line, '/dev/null'], { encoding: 'utf8', timeout: 120_000, env: { ...env, COLUMNS: '100' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
