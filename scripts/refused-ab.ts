// Refused counts of this checkout against a baseline checkout, per corpus pair: what a rule
// change does to the verdicts (the measurement a new refusal rule reports, without
// regenerating test/compiler-real.golden.json).
//   git archive COMMIT | tar -x -C /tmp/base && ln -s "$PWD/node_modules" /tmp/base/
//   node bin/run-ts.js scripts/refused-ab.ts /tmp/base [A B C D | LABEL-PREFIX...] [--code CODE | --code ALL]
// Each side runs in its own child process (diffFiles once). Prints per pair the refused count
// of each side and the diff time, then every refusal with CODE (default
// ENTRY_ARGUMENTS_CHANGED; ALL: every code, each line led by its code) that only one side gives, with its message.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cachePath, realPairs } from '../samples/real/real-files.ts';
import { labelPrefix } from './corpus-letters.ts';

interface Side {
  readonly refused: number;
  readonly ms: number;
  /** `at: message` of each refusal with the asked code. */
  readonly coded: readonly string[];
}

/** Child mode: `--child ROOT OLD NEW CODE`, prints one JSON Side line. */
async function child(root: string, oldPath: string, newPath: string, code: string): Promise<void> {
  const c = (await import(pathToFileURL(join(root, 'compiler/index.ts')).href)) as typeof import('../compiler/index.ts');
  const t0 = performance.now();
  const d = c.diffFiles(new Uint8Array(readFileSync(oldPath)), new Uint8Array(readFileSync(newPath)));
  const ms = performance.now() - t0;
  if (!d.ok) throw new Error(`${d.error.code}: ${d.error.message}`);
  const refused = d.value.functions.filter((f) => f.verdict === 'refused');
  const coded = refused.filter((f) => code === 'ALL' || f.reason?.code === code).map((f) => `${f.reason?.code}: ${f.name ?? `0x${(f.newRva ?? f.oldRva ?? 0).toString(16)}`}: ${f.reason?.message ?? ''}`);
  process.stdout.write(`${JSON.stringify({ refused: refused.length, ms, coded } satisfies Side)}\n`);
}

function runChild(root: string, oldPath: string, newPath: string, code: string): Side {
  const r = spawnSync(process.execPath, [join(import.meta.dirname, '../bin/run-ts.js'), import.meta.filename, '--child', root, oldPath, newPath, code], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`child for ${root} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Side;
}

async function main(args: string[]): Promise<void> {
  if (args[0] === '--child') return child(args[1]!, args[2]!, args[3]!, args[4]!);
  const baseRoot = args.shift();
  if (baseRoot === undefined) {
    process.stderr.write('usage: refused-ab.ts BASELINE-DIR [PAIRS...] [--code CODE]\n');
    process.exit(2);
  }
  let code = 'ENTRY_ARGUMENTS_CHANGED';
  const wanted: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--code') code = args[++i]!;
    else wanted.push(labelPrefix(args[i]!));
  }
  const here = resolve(import.meta.dirname, '..');
  const pairs = realPairs().filter((p) => wanted.length === 0 || wanted.some((w) => p.label.startsWith(w)));
  for (const p of pairs) {
    const o = cachePath(p.old);
    const n = cachePath(p.new);
    const before = runChild(resolve(baseRoot), o, n, code);
    const after = runChild(here, o, n, code);
    process.stdout.write(`${p.label}: refused ${before.refused} -> ${after.refused}; ${code} ${before.coded.length} -> ${after.coded.length}; diff ${before.ms.toFixed(0)} -> ${after.ms.toFixed(0)} ms\n`);
    for (const x of after.coded) if (!before.coded.includes(x)) process.stdout.write(`  + ${x}\n`);
    for (const x of before.coded) if (!after.coded.includes(x)) process.stdout.write(`  - ${x}\n`);
  }
}

await main(process.argv.slice(2));
