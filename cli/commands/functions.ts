/** `hotpatch functions FILE`: every function the compiler finds, with RVA, size and where it was found. */
import { hex } from '../../common/types.ts';
import { findFunctions } from '../../compiler/index.ts';
import { defineCommand } from '../command.ts';
import { readInputFile } from './pe.ts';

export default defineCommand({
  args: {
    positionals: {
      file: { describe: 'x86-64 PE file (DLL or EXE)' },
    },
  },
  run: (argv) => {
    const bytes = readInputFile(argv.file);
    if (!bytes.ok) return bytes;
    const t = findFunctions(bytes.value);
    if (!t.ok) return t;
    const fns = t.value.functions.map((f) => ({
      name: f.name,
      rva: hex(f.entry),
      size: f.ranges.reduce((s, r) => s + (r.end - r.start), 0),
      sources: f.sources,
      ranges: f.ranges.map((r) => ({ rva: hex(r.start), size: r.end - r.start })),
      instructions: f.decoded.insns.length,
      problems: f.decoded.problems,
    }));
    const bySource: Record<string, number> = {};
    for (const f of t.value.functions) for (const s of f.sources) bySource[s] = (bySource[s] ?? 0) + 1;
    const lines = [`${fns.length} functions (${Object.entries(bySource).map(([k, v]) => `${k} ${v}`).join(', ')})`];
    for (const f of fns) lines.push(`${f.rva.padStart(10)} ${String(f.size).padStart(7)}  ${f.sources.join('+').padEnd(24)} ${f.name ?? ''}${f.problems.length > 0 ? `  [${f.problems[0]}]` : ''}`);
    return { ok: true, value: { json: { file: argv.file, count: fns.length, bySource, functions: fns }, text: lines.join('\n') } };
  },
});
