/**
 * Test support: a sample's importer (samples/<scenario>/importer.c), a DLL compiled against
 * the scenario's v1 signatures that calls its exports by name, standing for a module outside
 * the patched one (test/entry-args-live.test.ts, test/entry-args-roles-live.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Builds `scenario`'s importer into `dir` against the DLL file `target` (its module name in the host); returns its path. */
export function buildImporter(dir: string, scenario: string, target: string): string {
  const out = join(dir, `importer-${target}`);
  execFileSync('x86_64-w64-mingw32-gcc', ['-O2', '-DHP_VERSION=1', `-DHP_TARGET="${target}"`, '-shared', '-o', out, join(ROOT, 'samples', scenario, 'importer.c')]);
  return out;
}
