/**
 * `hotpatch diff OLD NEW`: matched / changed / added / removed functions and changed data,
 * with a verdict per change. Unchanged functions are counted, not listed. Exit code 0 when
 * every change is hotpatchable, 30 (DIFF_) when one is refused.
 */
import { hex } from '../../common/types.ts';
import { diffFiles, type ImageDiff } from '../../compiler/index.ts';
import { defineCommand } from '../command.ts';
import { LONG_INPUT_BYTES, startProgress } from '../progress.ts';
import { readInputFile } from './pe.ts';

const hexOrNull = (n: number | null): string | null => (n === null ? null : hex(n));

/** The `--json` document of a diff (the contract scripts use). */
export function diffJson(d: ImageDiff, oldSize: number, newSize: number): Record<string, unknown> {
  const changed = d.functions.filter((f) => f.status !== 'unchanged');
  return {
    functions: changed.map((f) => ({
      name: f.name,
      oldRva: hexOrNull(f.oldRva),
      newRva: hexOrNull(f.newRva),
      status: f.status,
      verdict: f.verdict,
      reason: f.reason?.message ?? null,
      code: f.reason?.code ?? null,
      at: hexOrNull(f.reason?.at ?? null),
      oldSize: f.oldSize,
      newSize: f.newSize,
      matchedBy: f.matchedBy,
      dataOnly: f.dataOnly,
    })),
    data: d.data.map((x) => ({ name: x.name, section: x.section, oldRva: hexOrNull(x.oldRva), newRva: hexOrNull(x.newRva), size: x.size, status: x.status, verdict: x.verdict, reason: x.reason.message, code: x.reason.code, at: hexOrNull(x.reason.at) })),
    hotpatchable: d.hotpatchable,
    counts: { ...d.counts, oldFunctions: d.match.old.fns.functions.length, newFunctions: d.match.new.fns.functions.length },
    sizes: {
      oldFile: oldSize,
      newFile: newSize,
      changedCode: changed.filter((f) => f.status === 'changed' || f.status === 'added').reduce((s, f) => s + f.newSize, 0),
    },
  };
}

/** One line per change, refusals with their reasons. */
export function diffText(d: ImageDiff): string {
  const c = d.counts;
  const lines = [`${c.changed} changed, ${c.added} added, ${c.removed} removed, ${c.unchanged} unchanged functions; ${d.data.length} data change(s); ${d.hotpatchable ? 'hotpatchable' : `NOT hotpatchable (${c.refused} refused)`}`];
  for (const f of d.functions) {
    if (f.status === 'unchanged') continue;
    const where = f.status === 'removed' ? hex(f.oldRva ?? 0) : f.oldRva === null ? `-> ${hex(f.newRva ?? 0)}` : `${hex(f.oldRva)} -> ${hex(f.newRva ?? 0)}`;
    lines.push(`  ${f.status.padEnd(8)} ${(f.name ?? '(unnamed)').padEnd(28)} ${where}${f.dataOnly ? '  (code same, read-only data changed)' : ''}${f.verdict === 'refused' ? `  REFUSED: ${f.reason?.message ?? ''} [${f.reason?.code ?? ''}]` : ''}`);
  }
  for (const x of d.data) lines.push(`  data     ${(x.name ?? x.section ?? '').padEnd(28)} ${x.verdict === 'refused' ? `REFUSED: ${x.reason.message} [${x.reason.code}]` : x.reason.message}`);
  return lines.join('\n');
}

export default defineCommand({
  args: {
    positionals: {
      old: { describe: 'the build that is running' },
      new: { describe: 'the fixed build' },
    },
  },
  run: (argv) => {
    const o = readInputFile(argv.old);
    if (!o.ok) return o;
    const n = readInputFile(argv.new);
    if (!n.ok) return n;
    const progress = startProgress('hotpatch diff', { json: argv.json, expectLong: o.value.length + n.value.length >= LONG_INPUT_BYTES });
    const d = diffFiles(o.value, n.value, progress.report);
    progress.end();
    if (!d.ok) return d;
    return { ok: true, value: { json: diffJson(d.value, o.value.length, n.value.length), text: diffText(d.value), exitCode: d.value.hotpatchable ? 0 : 30 } };
  },
});
