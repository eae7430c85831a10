/** Small pieces of the live and revert commands' output, shared with live bundles (cli/bundle/live-bundle.ts). */
import { err, ok, type Result } from '../common/errors.ts';
import { hex } from '../common/types.ts';
import type { CloseReport } from '../runtime/backends/win32-agent.ts';

/** `--pid` must be a positive integer (the Windows process id; under Wine, what the process reports). */
export function checkPid(pid: unknown): Result<number> {
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0 || pid > 0xffff_ffff) return err('USAGE_PID', `--pid must be a positive integer, got ${String(pid)}`);
  return ok(pid);
}

/** Microseconds as milliseconds with two decimals, the form the text output uses. */
export function ms(us: number): string {
  return (us / 1000).toFixed(2);
}

/** One line about regions a commit had to keep (a thread still referenced them). */
export function keptLine(c: CloseReport): string {
  return c.kept.length === 0 ? '' : `kept ${c.kept.length} region(s) allocated (${c.kept.map((k) => hex(k)).join(', ')}): a thread may still return into them\n`;
}
