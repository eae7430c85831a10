/**
 * Test support: a sample's importer (samples/<scenario>/importer.c), a DLL compiled against
 * the scenario's v1 signatures that calls its exports by name, standing for a module outside
 * the patched one (test/entry-args-live.test.ts, entry-args-roles-live.test.ts,
 * entry-args-stack-live.test.ts), and the diff as it was before ENTRY_ARGUMENTS_CHANGED saw
 * what those tests show.
 */
import { execFileSync } from 'node:child_process';
import type { FunctionChange, ImageDiff } from '../../compiler/index.ts';
import { planRedirect } from '../../compiler/diff/redirect-sites.ts';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Builds `scenario`'s importer into `dir` against the DLL file `target` (its module name in the host); returns its path. */
export function buildImporter(dir: string, scenario: string, target: string): string {
  const out = join(dir, `importer-${target}`);
  execFileSync('x86_64-w64-mingw32-gcc', ['-O2', '-DHP_VERSION=1', `-DHP_TARGET="${target}"`, '-shared', '-o', out, join(ROOT, 'samples', scenario, 'importer.c')]);
  return out;
}

/** `d` with its ENTRY_ARGUMENTS_CHANGED refusals presented as hotpatchable, with their redirects (the diff before a rule saw them). */
export function withoutEntryArgumentRule(d: ImageDiff): ImageDiff {
  const reserved = new Set<number>();
  const functions = d.functions.map((f): FunctionChange => {
    if (f.reason?.code !== 'ENTRY_ARGUMENTS_CHANGED') return f;
    const r = planRedirect(d.match.old, d.match.old.fns.functions[f.oldIndex!]!, reserved);
    if ('code' in r) throw new Error(`${f.name ?? ''}: ${r.message}`);
    return { ...f, verdict: 'hotpatchable', reason: null, redirect: r };
  });
  return { ...d, functions, hotpatchable: functions.every((f) => f.verdict !== 'refused') };
}
