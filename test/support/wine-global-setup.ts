/**
 * vitest globalSetup: one idle Wine program (cmd.exe reading its stdin) runs in the tests'
 * prefix for the whole run, so the prefix's wineserver never exits while tests run.
 *
 * Why: a wineserver exits when no Wine program has run for its persistence delay (30 s for
 * the one `keepWineServer` starts, 0-3 s for one a program started after that one ended). A
 * program that connects just as the server closes its socket dies at once with
 * "wine client error:0: recvmsg: Connection reset by peer", before running any of its code:
 * with test files starting Wine programs in parallel, now and then seconds apart, a host that
 * never printed its pid failed an otherwise clean run. A held client removes the gaps instead
 * of retrying each start (every spawn of Wine in the suite would need it).
 */
import { spawn } from 'node:child_process';
import { hasWine } from './tools.ts';
import { keepWineServer, wineEnv } from './wine.ts';

export default function setup(): (() => Promise<void>) | undefined {
  if (!hasWine()) return undefined; // the Wine tests report the skip (or fail under HOTPATCH_REQUIRE_WINE=1)
  keepWineServer(30);
  const holder = spawn('wine', ['cmd.exe', '/q', '/k'], { env: wineEnv(), stdio: ['pipe', 'ignore', 'ignore'] });
  const exited = new Promise<void>((done) => {
    holder.on('exit', () => done());
    holder.on('error', () => done());
  });
  holder.stdin.on('error', () => undefined); // it may have ended first (a `wineserver -k`)
  return async () => {
    holder.stdin.end(); // cmd.exe exits at the end of its input
    const timer = setTimeout(() => holder.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
}
