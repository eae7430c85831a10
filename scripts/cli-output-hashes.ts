// What the compiled CLI (bin/hotpatch.cjs -> dist/cli/) prints for the start-up commands, as
// sha256 prefixes of stdout and stderr with the exit code: `hotpatch pe FILE` and
// `pe --json FILE` for every sample PE (samples/bin) and every real corpus file
// (samples/real/cache), plus `--help`, each command's `--help`, and the usage and input
// errors (missing file, directory, not a PE, truncated, empty). Run it before and after a
// change that must not move the CLI's output (a start-up speed-up) and diff the two:
//   npm run build && node bin/run-ts.js scripts/cli-output-hashes.ts > before.txt
// The CLI runs as a user runs it, its stdout and stderr pipes read to the end.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandName, commands } from '../cli/commands/index.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin/hotpatch.cjs');
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex').slice(0, 16);

/** Files under `dir` (symlinks followed) whose names end in one of `exts`, sorted. */
function filesUnder(dir: string, exts: readonly string[]): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const path = join(e.parentPath, e.name);
    if (exts.some((x) => e.name.toLowerCase().endsWith(x)) && !readdirSafe(path)) out.push(path);
  }
  return out.sort();
}

function readdirSafe(path: string): boolean {
  try {
    readdirSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs the CLI in `cwd`: the error cases run in a temp folder, named relative to it, so the messages are the same every run. */
function run(args: readonly string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [bin, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    c.stdout.on('data', (d: Buffer) => out.push(d));
    c.stderr.on('data', (d: Buffer) => err.push(d));
    c.on('error', reject);
    c.on('close', (code, signal) => resolve(`exit=${code ?? signal} stdout=${sha(Buffer.concat(out))} stderr=${sha(Buffer.concat(err))}`));
  });
}

const tmp = mkdtempSync(join(tmpdir(), 'hotpatch-cli-hashes-'));
const sample = join(root, 'samples/bin/logic-fix/v1.dll');
writeFileSync(join(tmp, 'text.dll'), 'just some text, long enough to hold a DOS header ......................\n');
writeFileSync(join(tmp, 'empty.dll'), new Uint8Array(0));
writeFileSync(join(tmp, 'truncated.dll'), readFileSync(sample).subarray(0, 700));

const pes = [...filesUnder(join(root, 'samples/bin'), ['.dll', '.exe']), ...filesUnder(join(root, 'samples/real/cache'), ['.dll', '.exe', '.node'])].map((p) => relative(root, p));
const inTmp: string[][] = ['nope.dll', 'text.dll', 'empty.dll', 'truncated.dll', '.'].flatMap((f) => [['pe', f], ['pe', '--json', f]]);
const cases: string[][] = [
  [],
  ['--help'],
  ['--json'],
  ['nope'],
  ['nope', '--json'],
  ['pe'],
  ['pe', '--json'],
  ['pe', 'a', 'b'],
  ['pe', '--bogus', relative(root, sample)],
  ...commands.map((c) => [commandName(c), '--help']),
  ...inTmp,
  ...pes.flatMap((p) => [['pe', p], ['pe', '--json', p]]),
];

// Two at a time: the machine is shared; order of the lines is the order of `cases`.
const results: string[] = new Array<string>(cases.length);
let next = 0;
const worker = async (): Promise<void> => {
  for (let i = next++; i < cases.length; i = next++) results[i] = await run(cases[i]!, inTmp.includes(cases[i]!) ? tmp : root);
};
await Promise.all([worker(), worker()]);
for (const [i, args] of cases.entries()) console.log(`${inTmp.includes(args) ? 'TMP/ ' : ''}${args.join(' ') || '(no args)'}: ${results[i]!}`);
rmSync(tmp, { recursive: true, force: true });
