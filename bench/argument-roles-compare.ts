// Before/after evidence for a change to how compiler/diff/argument-roles.ts or
// entry-arguments.ts computes (not what it decides): for every sample scenario step (gcc and
// clang, with symbols and stripped) and the real pairs below, prints one line per function of
// the diff (status, verdict, reason code and message) and one line per ENTRY_ARGUMENTS_CHANGED
// reason of the rule run alone; to stderr, the time of the rule before it (caller registers)
// and of entry arguments, run as settleVerdicts runs them (one ImageEffects shared), three times.
//   node bin/run-ts.js bench/argument-roles-compare.ts [--samples-only | --real-only [LABEL...]] > before.txt 2> before.time
// Run it before and after, then `diff before.txt after.txt` (must be empty) and compare the times.
import { readFileSync } from 'node:fs';
import { diffFiles } from '../compiler/index.ts';
import { callerRegisterProblems } from '../compiler/diff/caller-registers.ts';
import { entryArgumentProblems } from '../compiler/diff/entry-arguments.ts';
import { RegisterEffects, type ImageEffects } from '../compiler/diff/register-effects.ts';
import { cachePath, realPairs } from '../samples/real/real-files.ts';
import { sampleSteps } from '../scripts/sample-steps.ts';

/** swc-html 1.15.24 -> 1.15.33 (the rule's worst case), sharp A and watcher (labels of samples/real/manifest.json). */
const REAL_LABELS = ['swc-html-1.15.24-1.15.33', 'sharp-0.34.4-0.34.5', 'watcher-2.5.0-2.5.1'];

const hex = (x: number | null): string => (x === null ? '-' : `0x${x.toString(16)}`);

function comparePair(label: string, oldBytes: Uint8Array, newBytes: Uint8Array): void {
  const d = diffFiles(oldBytes, newBytes);
  if (!d.ok) {
    console.log(`${label} diff: ${d.error.code}: ${d.error.message}`);
    return;
  }
  for (const f of d.value.functions) {
    if (f.status === 'unchanged') continue;
    console.log(`${label} fn ${hex(f.oldRva)} ${hex(f.newRva)} ${f.name ?? ''} ${f.status} ${f.verdict ?? '-'} ${f.reason?.code ?? ''} ${f.reason?.message ?? ''}`);
  }
  const m = d.value.match;
  // Three runs (fresh effects each), wall and CPU time: this machine is shared, the minimum is the figure.
  const times: string[] = [];
  for (let rep = 0; rep < 3; rep++) {
    const fx: ImageEffects = { old: new RegisterEffects(m.old.img.image), new: new RegisterEffects(m.new.img.image) };
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    callerRegisterProblems(m, d.value.newStatus, fx);
    const c1 = process.cpuUsage();
    const t1 = performance.now();
    const entry = entryArgumentProblems(m, d.value.newStatus, fx);
    const t2 = performance.now();
    const c2 = process.cpuUsage();
    const cpu = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage): string => ((b.user + b.system - a.user - a.system) / 1000).toFixed(0);
    times.push(`caller-registers ${(t1 - t0).toFixed(0)} ms (cpu ${cpu(c0, c1)}), entry-arguments ${(t2 - t1).toFixed(0)} ms (cpu ${cpu(c1, c2)})`);
    if (rep === 0) for (const [k, r] of [...entry].sort((x, y) => x[0] - y[0])) console.log(`${label} entry-args ${k} ${r.code} ${hex(r.at)} ${r.message}`);
  }
  console.error(`${label}: ${times.join('; ')}`);
}

const only = process.argv[2];
if (only !== undefined && only !== '--samples-only' && only !== '--real-only') {
  console.error(`argument-roles-compare: unknown option ${only} (--samples-only or --real-only)`);
  process.exit(2);
}
if (only !== '--real-only') {
  for (const { label, files } of sampleSteps()) {
    if (files === null) console.log(`${label}: not built`);
    else comparePair(label, new Uint8Array(readFileSync(files.old)), new Uint8Array(readFileSync(files.new)));
  }
}
if (only !== '--samples-only') {
  const labels = process.argv.length > 3 ? process.argv.slice(3) : REAL_LABELS;
  for (const label of labels) {
    const p = realPairs().find((x) => x.label === label);
    if (p === undefined) throw new Error(`no corpus pair ${label}`);
    comparePair(label, new Uint8Array(readFileSync(cachePath(p.old))), new Uint8Array(readFileSync(cachePath(p.new))));
  }
}
