/** Polling for test helpers that wait on files a process under Wine writes. */

/**
 * Polls `check` every `everyMs` until it returns a value other than undefined, or throws after
 * `timeoutMs`. `check` may throw to give up early (e.g. the process it waits on has exited).
 */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => T | undefined, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
