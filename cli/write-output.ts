/**
 * The one way the CLI writes a file (packages, patched images, keys): never in place.
 *
 *  1. The output path is resolved: a symlink is followed to the file it names (and the
 *     result says so), a directory or a dangling symlink is refused.
 *  2. An output that is one of the command's inputs (same file by device and inode, or the
 *     same real path) is refused: `build OLD NEW -o OLD` must not replace OLD.
 *  3. The bytes go to a fresh temporary file in the target's directory (same file system),
 *     created exclusively with the final mode, written in full and fsynced.
 *  4. The temporary file is renamed over the target (atomic on POSIX), and the directory is
 *     fsynced so the rename survives a crash.
 * Any failure removes the temporary file and leaves the old target exactly as it was.
 */
import { closeSync, fchmodSync, fsyncSync, lstatSync, openSync, realpathSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { err, ok, type Result } from '../common/errors.ts';

/** Where an output went. */
export interface WrittenOutput {
  /** The path as given. */
  readonly path: string;
  /** The file actually written (the symlink's target when `path` is a symlink). */
  readonly resolved: string;
  /** "X is a symlink: wrote Y" when `path` was one, else null. */
  readonly note: string | null;
}

/** Options of writeOutput. */
export interface WriteOutputOptions {
  /** The command's input files: the output may be none of them. */
  readonly inputs: readonly string[];
  /** Mode of the new file (default: the old file's mode, else 0o644; umask does not apply). */
  readonly mode?: number;
  /** Refuse when the target exists (IO_EXISTS) instead of replacing it. */
  readonly exclusive?: boolean;
}

function message(e: unknown): string {
  return (e as Error).message.split('\n')[0] ?? 'cannot write';
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** The real file `path` names for writing: symlinks followed; null target when it does not exist yet. */
function resolveTarget(path: string): Result<{ resolved: string; viaSymlink: boolean; existing: Stats | null }> {
  let link: Stats | null = null;
  try {
    link = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return err('IO_WRITE_FAILED', `${path}: ${message(e)}`);
  }
  if (link === null) {
    // A new file: its directory must exist; resolve it so the temp file lands beside the target.
    let dir: string;
    try {
      dir = realpathSync(dirname(resolve(path)));
    } catch (e) {
      return err('IO_WRITE_FAILED', `${path}: directory ${dirname(path)} does not exist or is not readable (${message(e)})`);
    }
    return ok({ resolved: join(dir, basename(path)), viaSymlink: false, existing: null });
  }
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return err('IO_OUTPUT', `${path} is a symlink to a file that does not exist; refusing to write through it`);
  }
  const st = statOrNull(real);
  if (st?.isDirectory()) return err('IO_OUTPUT', `${path} is a directory; give a file name`);
  if (st !== null && !st.isFile()) return err('IO_OUTPUT', `${path} is not a regular file`);
  return ok({ resolved: real, viaSymlink: link.isSymbolicLink(), existing: st });
}

/** The input that `target` is, if any (same device and inode, or same real path). */
function sameAsInput(resolved: string, existing: Stats | null, inputs: readonly string[]): string | null {
  for (const input of inputs) {
    const st = statOrNull(input);
    if (st === null) continue;
    if (existing !== null && st.dev === existing.dev && st.ino === existing.ino) return input;
    try {
      if (realpathSync(input) === resolved) return input;
    } catch {
      // An input that cannot be resolved cannot be the output either.
    }
  }
  return null;
}

/** Writes `bytes` to `path` atomically (see the module comment). IO_OUTPUT, IO_OUTPUT_IS_INPUT, IO_EXISTS, IO_WRITE_FAILED. */
export function writeOutput(path: string, bytes: Uint8Array, opts: WriteOutputOptions): Result<WrittenOutput> {
  const t = resolveTarget(path);
  if (!t.ok) return t;
  const { resolved, viaSymlink, existing } = t.value;
  const input = sameAsInput(resolved, existing, opts.inputs);
  if (input !== null) {
    return err('IO_OUTPUT_IS_INPUT', `${path} is the input ${input}${viaSymlink ? ` (through a symlink to ${resolved})` : ''}; write the output to another file`);
  }
  if (opts.exclusive === true && existing !== null) return err('IO_EXISTS', `${path} already exists (pass --force to replace it)`);
  const mode = opts.mode ?? (existing === null ? 0o644 : existing.mode & 0o7777);
  const tmp = join(dirname(resolved), `.${basename(resolved)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'wx', mode);
    let at = 0;
    while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
    // The creation mode is masked by the umask; the target gets exactly `mode`, before the
    // bytes are reachable under its name.
    fchmodSync(fd, mode);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, resolved);
  } catch (e) {
    if (fd !== null) {
      try {
        closeSync(fd);
      } catch {
        // Already failing; the temp file is removed below.
      }
    }
    rmSync(tmp, { force: true });
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOSPC' ? 'no space left on the device' : code === 'EFBIG' ? 'file too large for this process (EFBIG)' : message(e);
    return err('IO_WRITE_FAILED', `${path}: ${why}; ${existing === null ? 'nothing was written' : 'the old file is unchanged'}`);
  }
  syncDirectory(dirname(resolved));
  return ok({ path, resolved, note: viaSymlink ? `${path} is a symlink: wrote its target ${resolved}` : null });
}

function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some file systems cannot fsync a directory; the rename itself has happened.
  }
}
