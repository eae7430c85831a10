/**
 * The run's held Wine program (test/support/wine-global-setup.ts): while tests run, a Wine
 * program of the tests' prefix is alive, so its wineserver stays up through a gap in which this
 * file starts none (a program connecting as a server exits dies with "wine client error:0:
 * recvmsg: Connection reset by peer").
 */
import { describe, expect, test } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { missingTools } from './support/tools.ts';
import { wineServerLinuxPid } from './support/win32-target.ts';
import { WINE_PREFIX } from './support/wine.ts';

const skip = missingTools(['wine']);

/** Linux pids of the processes running cmd.exe under Wine in the tests' prefix. */
function heldPrograms(): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
      const env = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
      return cmd.some((a) => /\\cmd\.exe$/i.test(a)) && env.includes(`WINEPREFIX=${WINE_PREFIX}`);
    } catch {
      return false; // exited, or not ours to read
    }
  });
}

describe.skipIf(skip !== undefined)(`the tests' wineserver${skip ? ` (skipped: ${skip})` : ''}`, () => {
  test('a Wine program of the prefix is held for the run, and the wineserver outlives a 4 s gap', async () => {
    expect(heldPrograms().length).toBeGreaterThanOrEqual(1);
    const server = wineServerLinuxPid();
    await new Promise((r) => setTimeout(r, 4000));
    expect(wineServerLinuxPid()).toBe(server);
    expect(heldPrograms().length).toBeGreaterThanOrEqual(1);
  });
});
