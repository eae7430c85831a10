/**
 * Test support: the hotpatch command line as a user runs it (`node bin/hotpatch.js ...`),
 * as a separate process, so exit codes, stdout and stderr are the real ones.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What a CLI run produced. */
export interface CliRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const BIN = join(fileURLToPath(new URL('../..', import.meta.url)), 'bin/hotpatch.js');

/** Runs the CLI to completion (blocking; killed after `timeoutMs`). */
export function runHotpatch(args: readonly string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): CliRun {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: opts.timeoutMs ?? 120_000, ...(opts.env === undefined ? {} : { env: opts.env }) });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Runs the CLI without blocking the event loop: a Wine host started by the test must keep
 * being served (its pipes read) while the command runs.
 */
export function runHotpatchAsync(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<CliRun> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [BIN, ...args], env === undefined ? {} : { env });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
