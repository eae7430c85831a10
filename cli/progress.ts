/**
 * Progress of long work on stderr: one status line rewritten in place (`\r`, erase line),
 * `hotpatch build: verify 0/12 functions  3.4 s`, erased when the work ends. Drawn only when
 * stderr is a TTY and --json is off, so pipes, logs and scripts see nothing extra; and only
 * for work that takes more than about a second: from the start when the caller expects it
 * (large inputs), else from the first report after HOTPATCH_PROGRESS_DELAY_MS (default 1000).
 * The compiler is synchronous, so a line is redrawn at each report, not on a timer.
 *
 * A few lines of our own rather than a library: the progress libraries on npm (cli-progress,
 * ora, listr2) draw bars or spinners on a timer, which a synchronous compiler never lets run,
 * and bring dependencies for what is one `\r` line here.
 */
import type { Progress, ProgressEvent } from '../common/progress.ts';

export interface ProgressLine {
  readonly report: Progress;
  /** Erases the line (if one was drawn); call before printing the command's output. */
  end(): void;
}

const SILENT: ProgressLine = { report: () => {}, end: () => {} };

function delayMs(): number {
  const v = Number(process.env['HOTPATCH_PROGRESS_DELAY_MS']);
  return Number.isFinite(v) && v >= 0 ? v : 1000;
}

/** The status text of one event. */
export function progressText(label: string, e: ProgressEvent, elapsedMs: number): string {
  const count = e.total === undefined ? '' : ` ${e.done ?? 0}/${e.total}${e.unit === undefined ? '' : ` ${e.unit}`}`;
  return `${label}: ${e.stage}${count}  ${(elapsedMs / 1000).toFixed(1)} s`;
}

/**
 * A status line labelled `label` (e.g. `hotpatch diff`) on `stream` (stderr), or a silent one
 * under --json or when the stream is not a TTY. `expectLong`: draw from the first report.
 */
export function startProgress(label: string, opts: { readonly json: boolean; readonly expectLong?: boolean }, stream: NodeJS.WriteStream = process.stderr): ProgressLine {
  if (opts.json || stream.isTTY !== true) return SILENT;
  const t0 = performance.now();
  const after = opts.expectLong === true ? 0 : delayMs();
  let drawn = false;
  return {
    report: (e) => {
      const ms = performance.now() - t0;
      if (ms < after) return;
      const width = Math.max(20, (stream.columns || 80) - 1);
      stream.write(`\r\x1b[K${progressText(label, e, ms).slice(0, width)}`);
      drawn = true;
    },
    end: () => {
      if (drawn) stream.write('\r\x1b[K');
      drawn = false;
    },
  };
}

/** Inputs this large (old + new bytes) take the compiler more than a second: show progress from the start. */
export const LONG_INPUT_BYTES = 1 << 20;
