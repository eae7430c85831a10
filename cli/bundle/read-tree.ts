/**
 * Reading a release tree for `hotpatch bundle`: every regular file under the root whose first
 * two bytes are "MZ" (a PE candidate), with its '/'-separated relative path. Symbolic links
 * are not followed (a tree must not reach outside itself); the walk is bounded in files
 * looked at and modules kept, so a wrong directory (/) fails fast with one line.
 */
import { closeSync, lstatSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { err, ok, type Result } from '../../common/errors.ts';
import { BUNDLE_LIMITS } from '../../formats/bundle.ts';
import type { TreeFile } from '../../bundle/pair-modules.ts';

/** Files looked at before the walk gives up (a release is thousands, not millions). */
const MAX_FILES = 200_000;

function startsWithMz(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(2);
    return readSync(fd, b, 0, 2, 0) === 2 && b[0] === 0x4d && b[1] === 0x5a;
  } finally {
    closeSync(fd);
  }
}

/** The PE candidates of the tree at `root`, sorted by path. IO_NOT_FOUND / IO_READ_FAILED / IO_TOO_MANY. */
export function readTree(root: string): Result<TreeFile[]> {
  try {
    if (!lstatSync(root).isDirectory()) return err('IO_READ_FAILED', `${root}: not a directory`);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? err('IO_NOT_FOUND', `${root}: no such directory`) : err('IO_READ_FAILED', `${root}: ${(e as Error).message.split('\n')[0]}`);
  }
  const out: TreeFile[] = [];
  const stack: string[] = [''];
  let seen = 0;
  try {
    while (stack.length > 0) {
      const rel = stack.pop()!;
      for (const d of readdirSync(join(root, rel), { withFileTypes: true })) {
        const r = rel === '' ? d.name : `${rel}/${d.name}`;
        if (++seen > MAX_FILES) return err('IO_TOO_MANY', `${root}: more than ${MAX_FILES} files; is this a release tree?`);
        if (d.isDirectory()) stack.push(r);
        else if (d.isFile() && startsWithMz(join(root, r))) {
          if (out.length >= BUNDLE_LIMITS.entries) return err('IO_TOO_MANY', `${root}: more than ${BUNDLE_LIMITS.entries} PE files`);
          out.push({ path: r, bytes: new Uint8Array(readFileSync(join(root, r))) });
        }
      }
    }
  } catch (e) {
    return err('IO_READ_FAILED', `${root}: ${(e as Error).message.split('\n')[0]}`);
  }
  return ok(out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)));
}
