/**
 * How often one try of a hold catches a thread that loops through a short function, in the
 * bytes a redirect of that function would replace: `node bin/run-ts.js bench/pause-load-entry.ts
 * [TRIES] [AGENT_EXE] [ENV=VALUE...]`. Starts samples/bin/host.exe on caller-loop-same's
 * v1.clang.dll with its worker (run(2000000) calling step, 6 bytes, in a loop), opens an agent
 * on it, and sends TRIES one-try swaps that avoid step's 6 bytes (`swap tries=1 avoid:STEP:6`),
 * 1 ms apart. Prints how many were caught and the longest run of consecutive catches: a hold
 * retries up to 50 times, so a catch rate near 1 is a LIVE_THREAD_IN_SITE now and then
 * (PROTOCOL.md, "Retries": a thread at a site's first byte is not caught). The agent's
 * environment gets ENV=VALUE pairs (e.g. HOTPATCH_AGENT_BOOST=none).
 */
import { startAgent } from '../runtime/backends/win32-agent.ts';
import { endHosts, startHost } from '../samples/host/host-session.ts';
import { wineEnv } from '../test/support/wine.ts';

const [triesArg = '200', agentPath = '', ...envs] = process.argv.slice(2);
const extra = Object.fromEntries(envs.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
const STEP_RVA = 0x16d0n; // step in samples/bin/caller-loop-same/v1.clang.dll (x86_64-w64-mingw32-objdump -d)
const h = await startHost('samples/bin/caller-loop-same/v1.clang.dll', { worker: true });
if (!h.ok) throw new Error(h.error.message);
const a = await startAgent({ env: { ...wineEnv(), ...extra }, ...(agentPath ? { agentPath } : {}) });
if (!a.ok) throw new Error(a.error.message);
try {
  const opened = await a.value.request(`open ${h.value.windowsPid}`);
  if (!opened.ok) throw new Error(opened.error.message);
  const step = h.value.moduleBase + STEP_RVA;
  let caught = 0;
  let run = 0;
  let longest = 0;
  const tries = Number(triesArg);
  for (let i = 0; i < tries; i++) {
    const r = await a.value.request(`swap tries=1 delay=1 avoid:0x${step.toString(16)}:6`);
    if (!r.ok && r.error.code !== 'LIVE_THREAD_IN_SITE') throw new Error(r.error.message);
    run = r.ok ? 0 : run + 1;
    caught += r.ok ? 0 : 1;
    longest = Math.max(longest, run);
    await new Promise((res) => setTimeout(res, 1));
  }
  process.stdout.write(`${agentPath || 'agent.exe'} ${envs.join(' ')}: caught ${caught}/${tries} one-try holds, longest run ${longest}\n`);
} finally {
  await a.value.close();
  await endHosts([h.value]);
}
