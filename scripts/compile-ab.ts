// Compile time of this checkout against a baseline checkout, interleaved: child processes
// alternate between the two (ABBA...), so a shared, noisy machine slows both alike.
//   git archive COMMIT | tar -x -C /tmp/base && ln -s "$PWD/node_modules" /tmp/base/
//   node bin/run-ts.js scripts/compile-ab.ts /tmp/base [A B C D E | LABEL-PREFIX...] [--rounds N] [--reps K]
// Each child loads one checkout's compiler, compiles the pair once cold (timed apart: the
// first compile of a process, JIT and iced's wasm not warm), then K times warm (default 3),
// timing what the bench's compile section times (bench/pairs.ts compileOnce): diff, build
// (--skip-refused when a change is refused: emit + verify), encode and sign.
// Prints per pair the median cold and warm wall and CPU time (user + system of the process, so time it
// was not scheduled is left out; background JIT and GC threads count) of each side, and
// after/before ratios. Both sides in one process would share the JIT and the heap, which
// blurs the difference: hence processes.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cachePath, realPairs } from '../samples/real/real-files.ts';
import { labelPrefix } from './corpus-letters.ts';

interface Sample {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly packageBytes: number;
}

/** Child mode: `--child ROOT OLD NEW REPS`, prints one JSON Sample[] line: the cold run first, then REPS warm ones. */
async function child(root: string, oldPath: string, newPath: string, reps: number): Promise<void> {
  const url = (p: string): string => pathToFileURL(join(root, p)).href;
  const c = (await import(url('compiler/index.ts'))) as typeof import('../compiler/index.ts');
  const f = (await import(url('formats/container.ts'))) as typeof import('../formats/container.ts');
  const k = (await import(url('formats/keys.ts'))) as typeof import('../formats/keys.ts');
  const { signingKey } = await k.generateKeyPair();
  const o = new Uint8Array(readFileSync(oldPath));
  const n = new Uint8Array(readFileSync(newPath));
  const once = async (): Promise<number> => {
    const d = c.diffFiles(o, n);
    if (!d.ok) throw new Error(`${d.error.code}: ${d.error.message}`);
    const b = c.buildFromDiff(d.value, { moduleName: 'ab.dll', skipRefused: !d.value.hotpatchable, series: null, compilerVersion: 'compile-ab' });
    if (!b.ok) return 0;
    const e = await f.encodePackage(b.value.emitted.pkg, { signingKey });
    return e.ok ? e.value.length : 0;
  };
  const out: Sample[] = [];
  for (let r = 0; r <= reps; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const packageBytes = await once();
    const t1 = performance.now();
    const cu = process.cpuUsage(c0);
    out.push({ wallMs: t1 - t0, cpuMs: (cu.user + cu.system) / 1000, packageBytes });
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function runChild(root: string, oldPath: string, newPath: string, reps: number): Sample[] {
  const r = spawnSync(process.execPath, [join(import.meta.dirname, '../bin/run-ts.js'), import.meta.filename, '--child', root, oldPath, newPath, String(reps)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`child for ${root} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Sample[];
}

async function main(args: string[]): Promise<void> {
  if (args[0] === '--child') return child(args[1]!, args[2]!, args[3]!, Number(args[4]));
  const baseRoot = args.shift();
  if (baseRoot === undefined) {
    process.stderr.write('usage: compile-ab.ts BASELINE-DIR [PAIRS...] [--rounds N] [--reps K]\n');
    process.exit(2);
  }
  let rounds = 4;
  let reps = 3;
  const wanted: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--rounds') rounds = Number(args[++i]);
    else if (args[i] === '--reps') reps = Number(args[++i]);
    else wanted.push(args[i]!);
  }
  const roots = [resolve(baseRoot), resolve(import.meta.dirname, '..')];
  for (const prefix of (wanted.length === 0 ? ['A'] : wanted).map((w) => labelPrefix(w))) {
    for (const p of realPairs().filter((x) => x.label.startsWith(prefix))) {
      const cold: Sample[][] = [[], []];
      const samples: Sample[][] = [[], []];
      for (let r = 0; r < rounds; r++) {
        for (const i of r % 2 === 0 ? [0, 1] : [1, 0]) {
          const [first, ...warm] = runChild(roots[i]!, cachePath(p.old), cachePath(p.new), reps);
          cold[i]!.push(first!);
          samples[i]!.push(...warm);
        }
      }
      const f = (x: number): string => `${x.toFixed(0)} ms`;
      const [kb, ka] = cold.map((s) => median(s.map((x) => x.wallMs))) as [number, number];
      const [kcb, kca] = cold.map((s) => median(s.map((x) => x.cpuMs))) as [number, number];
      const [wb, wa] = samples.map((s) => median(s.map((x) => x.wallMs))) as [number, number];
      const [cb, ca] = samples.map((s) => median(s.map((x) => x.cpuMs))) as [number, number];
      const sizes = samples.map((s) => s[0]?.packageBytes ?? 0);
      console.log(`${p.label}: cold wall ${f(kb)} -> ${f(ka)} (x${(ka / kb).toFixed(2)}), cpu ${f(kcb)} -> ${f(kca)} (x${(kca / kcb).toFixed(2)}), n=${rounds} each`);
      console.log(`${p.label}: warm wall ${f(wb)} -> ${f(wa)} (x${(wa / wb).toFixed(2)}), cpu ${f(cb)} -> ${f(ca)} (x${(ca / cb).toFixed(2)}), n=${rounds * reps} each, package ${sizes[0]} / ${sizes[1]} bytes`);
    }
  }
}

await main(process.argv.slice(2));
