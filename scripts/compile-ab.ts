// Compile time of this checkout against a baseline checkout, side by side in one process:
// rounds alternate the two (ABBA order), so a shared, noisy machine slows both alike.
//   git archive COMMIT | tar -x -C /tmp/base && ln -s "$PWD/node_modules" /tmp/base/
//   node bin/run-ts.js scripts/compile-ab.ts /tmp/base [A B C D E | LABEL-PREFIX...] [--rounds N]
// One compile is what the bench's compile section times (bench/pairs.ts compileOnce): diff,
// build (--skip-refused when a change is refused: emit + verify), encode and sign. Prints per
// pair the median wall time and the median CPU time (user + system, process.cpuUsage: time
// the process was not scheduled is left out) of each side, and after/before ratios.
import { join, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { cachePath, realPairs } from '../samples/real/real-files.ts';
import { labelPrefix } from './corpus-letters.ts';


interface Side {
  readonly name: string;
  compile(o: Uint8Array, n: Uint8Array): Promise<number>;
}

async function loadSide(name: string, root: string): Promise<Side> {
  const url = (p: string): string => pathToFileURL(join(root, p)).href;
  const c = (await import(url('compiler/index.ts'))) as typeof import('../compiler/index.ts');
  const f = (await import(url('formats/container.ts'))) as typeof import('../formats/container.ts');
  const k = (await import(url('formats/keys.ts'))) as typeof import('../formats/keys.ts');
  const { signingKey } = await k.generateKeyPair();
  return {
    name,
    async compile(o, n) {
      const d = c.diffFiles(o, n);
      if (!d.ok) throw new Error(`${name}: ${d.error.code}: ${d.error.message}`);
      const b = c.buildFromDiff(d.value, { moduleName: 'ab.dll', skipRefused: !d.value.hotpatchable, series: null, compilerVersion: 'compile-ab' });
      if (!b.ok) return 0;
      const e = await f.encodePackage(b.value.emitted.pkg, { signingKey });
      return e.ok ? e.value.length : 0;
    },
  };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const args = process.argv.slice(2);
const baseRoot = args.shift();
if (baseRoot === undefined) {
  process.stderr.write('usage: compile-ab.ts BASELINE-DIR [PAIRS...] [--rounds N]\n');
  process.exit(2);
}
let rounds = 4;
const wanted: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--rounds') rounds = Number(args[++i]);
  else wanted.push(args[i]!);
}
const sides = [await loadSide('before', resolve(baseRoot)), await loadSide('after', resolve(import.meta.dirname, '..'))];
for (const prefix of (wanted.length === 0 ? ['A'] : wanted).map((w) => labelPrefix(w))) {
  for (const p of realPairs().filter((x) => x.label.startsWith(prefix))) {
    const o = new Uint8Array(readFileSync(cachePath(p.old)));
    const n = new Uint8Array(readFileSync(cachePath(p.new)));
    const wall: number[][] = [[], []];
    const cpu: number[][] = [[], []];
    const size: number[] = [0, 0];
    // A warm-up compile each (JIT, wasm instantiation), then ABBA rounds.
    for (const s of sides) await s.compile(o, n);
    for (let r = 0; r < rounds; r++) {
      for (const i of r % 2 === 0 ? [0, 1] : [1, 0]) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        size[i] = await sides[i]!.compile(o, n);
        const t1 = performance.now();
        const c1 = process.cpuUsage(c0);
        wall[i]!.push(t1 - t0);
        cpu[i]!.push((c1.user + c1.system) / 1000);
      }
    }
    const f = (x: number): string => `${x.toFixed(0)} ms`;
    const [wb, wa, cb, ca] = [median(wall[0]!), median(wall[1]!), median(cpu[0]!), median(cpu[1]!)];
    console.log(`${p.label}: wall ${f(wb)} -> ${f(wa)} (x${(wa / wb).toFixed(2)}), cpu ${f(cb)} -> ${f(ca)} (x${(ca / cb).toFixed(2)}), n=${rounds}, package ${size[0]} / ${size[1]} bytes`);
  }
}
