/**
 * Test inputs for the parser's tests: every PE file committed under samples/ (the
 * scenario DLLs/EXEs; the real corpus cache excluded) and the real corpus files, fetched
 * on demand. Node-only (tests and the bench).
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REQUIRE_TOOLS } from './tools.ts';
import { fetchRealFile, realFiles, type RealFile } from '../../samples/real/real-files.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Paths (absolute) of *.dll / *.exe under samples/, excluding samples/real/cache. */
export function samplePeFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (relative(REPO_ROOT, p) === join('samples', 'real', 'cache') || name === 'node_modules') continue;
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (/\.(dll|exe)$/i.test(name)) out.push(p);
    }
  };
  walk(join(REPO_ROOT, 'samples'));
  return out.sort();
}

/**
 * The real corpus as local paths, fetching what is missing. When the registry cannot be
 * reached the files are reported as missing (a skip reason), except under
 * HOTPATCH_REQUIRE_WINE=1 (CI), where that is a failure.
 */
export function realCorpusFiles(): { files: Array<{ file: RealFile; path: string }>; missing: string | undefined } {
  const files: Array<{ file: RealFile; path: string }> = [];
  const problems: string[] = [];
  for (const f of realFiles()) {
    const r = fetchRealFile(f);
    if (r.ok) files.push({ file: f, path: r.value });
    else problems.push(`${r.error.code}: ${r.error.message}`);
  }
  if (problems.length === 0) return { files, missing: undefined };
  const reason = `real corpus incomplete (${problems.length} files): ${problems[0]}`;
  if (REQUIRE_TOOLS) throw new Error(`HOTPATCH_REQUIRE_WINE=1 but ${reason}`);
  return { files, missing: reason };
}
