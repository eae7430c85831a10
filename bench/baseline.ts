/**
 * The "before" side of before/after comparisons that must run in one process: a commit's
 * tree extracted with `git archive` into a temp folder (node_modules linked from this
 * checkout), so its own modules can be imported and bundled beside the current ones.
 * Node-only, like the rest of bench/.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The parser before wasm-pack: main at fc2b894, the last commit whose pe-parser/pkg held
 * hand-written bindings and loader (no third-party crate). HOTPATCH_BENCH_BASELINE names
 * another commit.
 */
export const PARSER_BASELINE = process.env['HOTPATCH_BENCH_BASELINE'] ?? 'fc2b894975683d49007a9a76407d5773e0c9afef';

export interface Baseline {
  readonly commit: string;
  readonly root: string;
  readonly remove: () => void;
}

/**
 * `commit`'s tree under a temp folder, or a one-line reason (no git history in this clone,
 * for example a shallow one).
 */
export function checkoutBaseline(root: string, commit: string): Baseline | string {
  const dir = mkdtempSync(join(tmpdir(), 'hotpatch-bench-baseline-'));
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  const archive = spawnSync('git', ['-C', root, 'archive', '--format=tar', commit, 'runtime', 'common', 'formats', 'package.json', 'tsconfig.json'], { maxBuffer: 1 << 30 });
  if (archive.status !== 0) {
    remove();
    return `git archive ${commit.slice(0, 12)} failed: ${String(archive.stderr).trim().split('\n')[0] ?? ''}`;
  }
  const tar = spawnSync('tar', ['-x', '-C', dir], { input: archive.stdout });
  if (tar.status !== 0) {
    remove();
    return `tar -x failed: ${String(tar.stderr).trim().split('\n')[0] ?? ''}`;
  }
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  return { commit, root: dir, remove };
}
