/**
 * The compiler on every real pair of samples/real/manifest.json (shipped MSVC-, Go- and
 * mingw-built x86-64 modules): the diff completes; a strict build either succeeds and
 * verifies or refuses with one reason per change; a --skip-refused build always produces a
 * package that verifies; pairs whose code did not change show no code change. Per pair the
 * counts and package size are pinned in test/compiler-real.golden.json (UPDATE_GOLDEN=1
 * rewrites it). Pairs the corpus cannot fetch are skipped with the reason.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { buildFromDiff, COMPILER_VERSION, diffFiles, findRuntimeTables } from '../compiler/index.ts';
import { encodePackage } from '../formats/container.ts';
import { fetchRealFile, realPairs } from '../samples/real/real-files.ts';

interface GoldenEntry {
  readonly functions: { readonly old: number; readonly new: number };
  readonly changed: number;
  readonly dataOnly: number;
  readonly added: number;
  readonly removed: number;
  readonly refused: number;
  readonly dataRefused: number;
  readonly hotpatchable: boolean;
  /** Package of the hotpatchable changes (--skip-refused): functions carried and bytes. */
  readonly packageFunctions: number;
  readonly packageBytes: number | null;
  /** Set when the container refuses the package (e.g. over its size cap). */
  readonly packageError: string | null;
}

const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), 'compiler-real.golden.json');
const UPDATE = process.env['UPDATE_GOLDEN'] === '1';
const golden: Record<string, GoldenEntry> = existsSync(GOLDEN) ? (JSON.parse(readFileSync(GOLDEN, 'utf8')) as Record<string, GoldenEntry>) : {};
const seen: Record<string, GoldenEntry> = {};

afterAll(() => {
  if (UPDATE && Object.keys(seen).length > 0) writeFileSync(GOLDEN, `${JSON.stringify({ ...golden, ...seen }, null, 2)}\n`);
});

describe.each(realPairs().map((p) => [p.label, p] as const))('%s', (label, pair) => {
  const o = fetchRealFile(pair.old);
  const n = fetchRealFile(pair.new);
  const unavailable = !o.ok ? o.error.message : !n.ok ? n.error.message : undefined;
  test.skipIf(unavailable !== undefined)(`diff, strict build and --skip-refused build${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, { timeout: 900_000 }, async () => {
    const ob = new Uint8Array(readFileSync((o as { value: string }).value));
    const nb = new Uint8Array(readFileSync((n as { value: string }).value));
    const t0 = performance.now();
    const d = diffFiles(ob, nb);
    if (!d.ok) throw new Error(`${d.error.code}: ${d.error.message}`);
    const diffMs = performance.now() - t0;
    const diff = d.value;
    const changed = diff.functions.filter((f) => f.status === 'changed');

    if (pair.codeUnchanged === true) {
      // Same code: nothing added or removed, and every "changed" function only reads
      // read-only data that changed (version strings and the like).
      expect(diff.counts.added).toBe(0);
      expect(diff.counts.removed).toBe(0);
      expect(changed.filter((f) => !f.dataOnly).map((f) => f.name ?? f.newRva)).toEqual([]);
    }

    // Strict: a refusal names the function or global and fails the build.
    const strict = buildFromDiff(diff, { moduleName: label, skipRefused: false, series: null, compilerVersion: COMPILER_VERSION });
    if (diff.hotpatchable) {
      if (!strict.ok) throw new Error(`${strict.error.code}: ${strict.error.message}`);
    } else {
      expect(strict.ok).toBe(false);
      // A runtime with its own code tables (Go: esbuild) refuses the image as a whole.
      const runtime = findRuntimeTables(diff.match.old.img).length > 0;
      if (!strict.ok) expect(strict.error.code).toBe(runtime ? 'BUILD_RUNTIME_TABLES' : 'BUILD_REFUSED');
      for (const f of diff.functions.filter((x) => x.verdict === 'refused')) expect(f.reason?.message ?? '').not.toBe('');
      for (const x of diff.data.filter((y) => y.verdict === 'refused')) expect(x.reason.message).not.toBe('');
    }

    // Lenient: a package of what can be hotpatched, verified by buildFromDiff. When emission
    // or verification cannot produce one, the build fails with a BUILD_ value (never a
    // crash, never an unverified package); the golden file pins which pairs do.
    const lenient = buildFromDiff(diff, { moduleName: label, skipRefused: true, series: null, compilerVersion: COMPILER_VERSION });
    if (!lenient.ok) expect(lenient.error.code).toMatch(/^BUILD_/);
    // The container caps payloads (formats/); a package over the cap is recorded as such.
    const bytes = lenient.ok ? await encodePackage(lenient.value.emitted.pkg) : lenient;
    if (!bytes.ok) expect(bytes.error.code).toMatch(/^(PKG|BUILD)_/);

    const entry: GoldenEntry = {
      functions: { old: diff.match.old.fns.functions.length, new: diff.match.new.fns.functions.length },
      changed: changed.length,
      dataOnly: changed.filter((f) => f.dataOnly).length,
      added: diff.counts.added,
      removed: diff.counts.removed,
      refused: diff.functions.filter((f) => f.verdict === 'refused').length,
      dataRefused: diff.data.filter((x) => x.verdict === 'refused').length,
      hotpatchable: diff.hotpatchable,
      packageFunctions: lenient.ok ? lenient.value.emitted.pkg.functions.length : 0,
      packageBytes: bytes.ok ? bytes.value.length : null,
      packageError: bytes.ok ? null : bytes.error.code,
    };
    seen[label] = entry;
    console.log(`${label}: diff ${Math.round(diffMs)} ms, ${entry.changed} changed (${entry.dataOnly} data only), ${entry.added} added, ${entry.removed} removed, ${entry.refused} refused; package ${entry.packageBytes} B (${entry.packageFunctions} functions), bsdiff ${pair.baselines.bsdiff} B`);
    if (!UPDATE) expect(entry).toEqual(golden[label]);
  });
});
