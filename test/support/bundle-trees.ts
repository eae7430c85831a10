/**
 * Test and bench support: release trees made of sample scenarios, for `hotpatch bundle`.
 * `samplesTree` gives the tree the bundle tests use: three changed modules (one of them
 * renamed between the releases, so it pairs by identity), one unchanged and one refused,
 * plus a file that is not a module.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../samples/bin', import.meta.url));

/** One module of a tree: where it goes in OLD and NEW, and which sample versions fill it. */
export interface TreeModuleSpec {
  readonly oldPath: string;
  readonly newPath: string;
  readonly scenario: string;
  readonly oldVersion: string;
  readonly newVersion: string;
}

export const SAMPLES_TREE: readonly TreeModuleSpec[] = [
  { oldPath: 'logic.dll', newPath: 'logic.dll', scenario: 'logic-fix', oldVersion: 'v1', newVersion: 'v2' },
  { oldPath: 'lib/bounds.dll', newPath: 'lib/bounds.dll', scenario: 'bounds-check', oldVersion: 'v1', newVersion: 'v2' },
  { oldPath: 'lib/helper-1.0.dll', newPath: 'lib/helper-1.1.dll', scenario: 'new-helper', oldVersion: 'v1', newVersion: 'v2' },
  { oldPath: 'same.dll', newPath: 'same.dll', scenario: 'string-change', oldVersion: 'v1', newVersion: 'v1' },
  { oldPath: 'struct.dll', newPath: 'struct.dll', scenario: 'struct-layout', oldVersion: 'v1', newVersion: 'v2' },
];

/** Writes OLD and NEW trees under `root` (root/old, root/new) and returns their paths. */
export function writeTree(root: string, specs: readonly TreeModuleSpec[] = SAMPLES_TREE): { old: string; new: string } {
  const old = join(root, 'old');
  const neu = join(root, 'new');
  for (const s of specs) {
    for (const [dir, path, v] of [[old, s.oldPath, s.oldVersion], [neu, s.newPath, s.newVersion]] as const) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      copyFileSync(join(BIN, s.scenario, `${v}.dll`), join(dir, path));
    }
  }
  for (const dir of [old, neu]) writeFileSync(join(dir, 'README.txt'), 'not a module\n');
  return { old, new: neu };
}
