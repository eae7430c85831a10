/**
 * What bench/pause-load.ts and bench/pause-load-first.ts swap: code memory allocated in the
 * target (RWX, filled with int3) and 48 five-byte sites spread over it, and the target's
 * pid as the node.exe they start writes it (file `pid` in its directory).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentConnection } from '../runtime/backends/win32-agent.ts';
import { waitFor } from '../test/support/real-live.ts';

/** One request that must succeed (the bench stops otherwise). */
export async function mustRequest(agent: AgentConnection, line: string): Promise<Record<string, unknown>> {
  const r = await agent.request(line);
  if (!r.ok) throw new Error(`${line.slice(0, 60)}: ${r.error.code} ${r.error.message}`);
  return r.value;
}

/** The Windows pid node.exe wrote to DIR/pid (waits for a complete one). */
export function waitForPid(dir: string): Promise<number> {
  return waitFor('node.exe pid', 60_000, () => (existsSync(join(dir, 'pid')) ? Number(readFileSync(join(dir, 'pid'), 'utf8')) || undefined : undefined));
}

export interface SwapSites {
  readonly base: bigint;
  /** The sites' addresses (the last one is read back after each swap). */
  readonly at: readonly bigint[];
  /** The `site:` tokens of a swap from FROM to TO (hex, 5 bytes) at every site. */
  readonly sites: (from: string, to: string) => string;
}

/** Allocates 256 KiB of RWX code memory in the opened target, fills it with int3 and spreads 48 sites over it. */
export async function prepareSwapSites(agent: AgentConnection): Promise<SwapSites> {
  const SIZE = 0x40000;
  const base = BigInt((await mustRequest(agent, `alloc 0x10000 0x7ff000000000 0x${SIZE.toString(16)} 0x40`))['address'] as string);
  const fill = Buffer.alloc(0x10000, 0xcc).toString('hex');
  for (let off = 0; off < SIZE; off += 0x10000) await mustRequest(agent, `write 0x${(base + BigInt(off)).toString(16)} ${fill}`);
  const n = 48;
  const at = Array.from({ length: n }, (_, k) => base + BigInt(k * Math.floor(SIZE / n) + 0x10));
  return { base, at, sites: (from, to) => at.map((x) => `site:0x${x.toString(16)}:${from}:${to}`).join(' ') };
}
