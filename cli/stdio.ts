/**
 * How the CLI prints its result, its help and its one-line errors: `fs.writeSync` on file
 * descriptors 1 and 2, not `process.stdout` / `process.stderr`. The first touch of those
 * getters builds a stream (Node loads and compiles its net, stream and tty modules), about
 * 3-4 ms of `hotpatch pe FILE`'s start for one write just before exit (bench section
 * startup; issue #12). On POSIX the streams write files, pipes and terminals synchronously
 * anyway, so the bytes and their order are the same.
 *
 * Two cases the stream used to handle:
 * - EAGAIN: the descriptor is non-blocking, because a parent that shares it (a Node parent
 *   with `stdio: 'inherit'`, say) made it so, and the pipe is full. What is left goes through
 *   the stream, which waits for the pipe to drain.
 * - EPIPE: the reader has gone (`hotpatch pe --json X | head -1`). What is left is dropped,
 *   and the command ends as it would have; the stream threw an uncaught error there.
 * Progress lines (cli/progress.ts) still use process.stderr: they are drawn on terminals
 * only, during long work whose start time does not matter.
 */
import { writeSync } from 'node:fs';

function writeAll(fd: 1 | 2, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  let at = 0;
  try {
    while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EPIPE') return;
    if (code !== 'EAGAIN') throw e;
    (fd === 1 ? process.stdout : process.stderr).write(bytes.subarray(at));
  }
}

/** Writes `text` to standard output. */
export function writeStdout(text: string): void {
  writeAll(1, text);
}

/** Writes `text` to standard error. */
export function writeStderr(text: string): void {
  writeAll(2, text);
}
