/**
 * Live apply and revert: the same planner (runtime/plan) and the same transactional
 * executor (runtime/apply) as the in-memory backend, run against a live process through
 * the win32 agent, plus the one thing a live process needs that an in-memory image does
 * not: remembering what was applied, across separate `hotpatch live` / `hotpatch revert`
 * invocations.
 *
 * The applied state lives in the target process itself, in a *state record*: a private,
 * read-only allocation near the module that starts with the marker `HOTPATCH-LIVE-V1`,
 * then a u32 length and the JSON of the applied plan (without its apply steps) whose
 * `revert` steps also free the record. Revert (or the next package of a series) finds it by
 * walking the target's regions around the module for the marker (`find-marker`). Why in the
 * process and not in a file: the record lives and dies with what it describes (a restarted
 * process has no patch and no record), needs no shared file system between tool and target,
 * and two tools can never disagree about it. Writing and freeing the record are steps of the
 * apply/revert transaction itself, so the record exists exactly when the patch does.
 */
import { err, ok, type HotpatchError, type Result } from '../../../common/errors.ts';
import { asVa, hex, type Va } from '../../../common/types.ts';
import type { HotpatchPackage } from '../../../formats/package.ts';
import { executeSteps, revertPlan, type ExecuteReport } from '../../apply/execute-plan.ts';
import { planPackage, type PlanOptions } from '../../plan/plan-package.ts';
import { PAGE_READONLY, PAGE_READWRITE, writePlanFromJson, writePlanToJson, type PlannedFunction, type WritePlan, type WriteStep } from '../../plan/write-plan.ts';
import { bytesToHex, hexToBytes } from '../../plan/write-plan.ts';
import { listModules, type AgentConnection, type ModuleChooser, type PauseParts, type Win32AgentBackend } from '../win32-agent.ts';

/** The 16 bytes a state record starts with. */
export const STATE_MAGIC = new TextEncoder().encode('HOTPATCH-LIVE-V1');
const HEADER = 24; // magic(16) + u32 JSON length + u32 reserved
/** Where to look for records: they are placed near the module, so this window is ample. */
const SCAN_REACH = 0x1_0000_0000n;

/** What a state record holds. */
export interface LiveState {
  /** Module the plan was applied to. */
  readonly module: { readonly name: string | null; readonly base: Va };
  /** The applied plan (apply steps dropped; `revert` ends by freeing the record). */
  readonly plan: WritePlan;
  /** When it was applied (ISO 8601), for people. */
  readonly appliedAt: string;
  /** Where the record itself is, and its allocation size. */
  readonly record: Va;
  readonly recordSize: number;
}

/** Encodes a state record (header + JSON). */
export function encodeStateRecord(state: Omit<LiveState, 'record' | 'recordSize'>): Uint8Array {
  const json = new TextEncoder().encode(
    JSON.stringify({ format: 'hotpatch-live-state', version: 1, module: { name: state.module.name, base: hex(state.module.base) }, appliedAt: state.appliedAt, plan: writePlanToJson(state.plan) }),
  );
  const out = new Uint8Array(HEADER + json.length);
  out.set(STATE_MAGIC, 0);
  new DataView(out.buffer).setUint32(16, json.length, true);
  out.set(json, HEADER);
  return out;
}

/** Decodes a state record read from `at` (LIVE_STATE_CORRUPT when it is not one). */
export function decodeStateRecord(bytes: Uint8Array, at: Va): Result<LiveState> {
  const bad = (why: string): Result<never> => err('LIVE_STATE_CORRUPT', `state record at ${hex(at)} is unreadable: ${why}`);
  if (bytes.length < HEADER || STATE_MAGIC.some((b, i) => bytes[i] !== b)) return bad('no marker');
  const len = new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getUint32(16, true);
  if (HEADER + len > bytes.length) return bad(`length ${len} runs past the record`);
  let j: unknown;
  try {
    j = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(HEADER, HEADER + len)));
  } catch {
    return bad('not JSON');
  }
  const o = (typeof j === 'object' && j !== null ? j : {}) as Record<string, unknown>;
  if (o['format'] !== 'hotpatch-live-state' || o['version'] !== 1) return bad('unknown format or version');
  const m = (o['module'] ?? {}) as Record<string, unknown>;
  if (typeof m['base'] !== 'string' || !/^0x[0-9a-f]{1,16}$/.test(m['base'])) return bad('no module base');
  const plan = writePlanFromJson(o['plan']);
  if (!plan.ok) return bad(plan.error.message);
  return ok({
    module: { name: typeof m['name'] === 'string' ? m['name'] : null, base: asVa(BigInt(m['base'])) },
    plan: plan.value,
    appliedAt: typeof o['appliedAt'] === 'string' ? o['appliedAt'] : '',
    record: at,
    recordSize: pageRound(HEADER + len),
  });
}

/** Reads the state record for the backend's module, or null when nothing is applied to it. */
export async function findLiveState(backend: Win32AgentBackend): Promise<Result<LiveState | null>> {
  const { base, sizeOfImage } = backend.module;
  const lo = asVa(base > SCAN_REACH ? base - SCAN_REACH : 0n);
  const hi = asVa(base + BigInt(sizeOfImage) + SCAN_REACH);
  const found = await backend.findMarkers(lo, hi, STATE_MAGIC);
  if (!found.ok) return found;
  let mine: LiveState | null = null;
  for (const at of found.value) {
    const head = await backend.read(at, HEADER);
    if (!head.ok) return head;
    const len = new DataView(head.value.buffer, head.value.byteOffset).getUint32(16, true);
    if (len > 64 * 1024 * 1024) return err('LIVE_STATE_CORRUPT', `state record at ${hex(at)} claims ${len} bytes`);
    const all = await backend.read(at, HEADER + len);
    if (!all.ok) return all;
    const st = decodeStateRecord(all.value, at);
    if (!st.ok) return st;
    if (st.value.module.base !== base) continue; // another module's record
    if (mine !== null) return err('LIVE_STATE_CORRUPT', `two state records for the module at ${hex(base)}: ${hex(mine.record)} and ${hex(at)}`);
    mine = st.value;
  }
  return ok(mine);
}

/** What a live apply did, with its times. */
export interface LiveApplyReport {
  readonly plan: WritePlan;
  /** The sequence replaced in the process, or null. */
  readonly supersedes: number | null;
  readonly functions: readonly PlannedFunction[];
  readonly record: Va;
  readonly planMs: number;
  readonly execute: ExecuteReport;
  /** Time the target's threads were suspended around the redirect stores, as the agent measured it (µs). */
  readonly pauseUs: number;
  /** What that pause consisted of (one entry per `swap`; empty when the stores went as plain steps). */
  readonly pauseParts: readonly PauseParts[];
}

/** What a live revert did. */
export interface LiveRevertReport {
  readonly reverted: LiveState;
  readonly execute: ExecuteReport;
  readonly pauseUs: number;
  /** What that pause consisted of (one entry per `swap`), as for an apply. */
  readonly pauseParts: readonly PauseParts[];
}

const pageRound = (n: number): number => Math.ceil(n / 0x1000) * 0x1000;
const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/**
 * What applying a package to a live module takes, planned but not executed: the plan, and
 * the steps that apply it together with its state record (allocate, write and protect the
 * record, the plan's steps, then the free of the superseded record).
 */
export interface PreparedLive {
  readonly plan: WritePlan;
  readonly current: LiveState | null;
  readonly record: Va;
  readonly planMs: number;
  readonly steps: readonly WriteStep[];
}

/**
 * Plans `pkg` against the live module (superseding the applied plan of the same series,
 * found through its record) and lays out the steps; changes nothing in the process.
 * Refusals (identity, original bytes, series, sequence) happen here.
 */
export async function prepareLive(pkg: HotpatchPackage, backend: Win32AgentBackend, options: Pick<PlanOptions, 'reference'> = {}): Promise<Result<PreparedLive>> {
  const cur = await findLiveState(backend);
  if (!cur.ok) return cur;
  const current = cur.value;
  const planned = await planPackage(pkg, backend, { ...options, current: current?.plan ?? null });
  if (!planned.ok) return planned;
  const { plan, timing } = planned.value;

  // The record goes after the patch region (first fit upward from both), so it never takes
  // the region the plan is about to allocate.
  const lo = plan.image.base < plan.region.address ? plan.image.base : plan.region.address;
  const imageEnd = plan.image.base + BigInt(plan.image.sizeOfImage);
  const regionEnd = plan.region.address + BigInt(plan.region.size);
  const hi = imageEnd > regionEnd ? imageEnd : regionEnd;
  const appliedAt = new Date().toISOString();
  // Size the record with its own address unknown: an address's hex has at most 18 chars.
  const probe = encodeStateRecord({ module: { name: backend.module.name, base: backend.module.base }, plan: storedPlan(plan, asVa(0xffff_ffff_ffff_ffffn), 0x7fff_f000), appliedAt });
  const recordSize = pageRound(probe.length);
  const at = await backend.findFreeRegion({ start: lo, size: Number(hi - lo) }, recordSize);
  if (!at.ok) return at;
  const record = at.value;
  const stored = storedPlan(plan, record, recordSize);
  const bytes = encodeStateRecord({ module: { name: backend.module.name, base: backend.module.base }, plan: stored, appliedAt });
  if (bytes.length > recordSize) throw new Error('state record grew past its size estimate'); // bug: estimate uses the longest address

  const steps: WriteStep[] = [
    { op: 'allocate', address: record, size: recordSize, protection: PAGE_READWRITE },
    { op: 'write', address: record, bytes },
    { op: 'protect', address: record, size: recordSize, protection: PAGE_READONLY },
    ...plan.steps,
    ...(current === null ? [] : [{ op: 'free', address: current.record, size: current.recordSize } as const]),
  ];
  return ok({ plan, current, record, planMs: timing.totalMs, steps });
}

/**
 * Plans `pkg` against the live module and applies it, together with its state record, as
 * one transaction (see `prepareLive`). The backend stays open: the caller closes it (commit)
 * or abandons it.
 */
export async function applyLive(pkg: HotpatchPackage, backend: Win32AgentBackend, options: Pick<PlanOptions, 'reference'> = {}): Promise<Result<LiveApplyReport>> {
  const prepared = await prepareLive(pkg, backend, options);
  if (!prepared.ok) return prepared;
  const { plan, record, planMs, steps } = prepared.value;
  const before = backend.pauses.length;
  const partsBefore = backend.pauseParts.length;
  const executed = await executeSteps(backend, steps);
  if (!executed.ok) return executed;
  return ok({
    pauseParts: backend.pauseParts.slice(partsBefore),
    plan,
    supersedes: plan.supersedes,
    functions: plan.functions,
    record,
    planMs,
    execute: executed.value,
    pauseUs: sum(backend.pauses.slice(before)),
  });
}

/** The plan as the record keeps it: no apply steps (they hold the code; revert needs none of it), and a revert that also frees the record. */
function storedPlan(plan: WritePlan, record: Va, recordSize: number): WritePlan {
  return { ...plan, steps: [], revert: [...plan.revert, { op: 'free', address: record, size: recordSize }] };
}

/** Reverts whatever is applied to the backend's module (back to the baseline) as one transaction, record included. */
export async function revertLive(backend: Win32AgentBackend): Promise<Result<LiveRevertReport>> {
  const cur = await findLiveState(backend);
  if (!cur.ok) return cur;
  if (cur.value === null)
    return err('REVERT_NOTHING_APPLIED', `no hotpatch is applied to ${backend.module.name ?? hex(backend.module.base)} in process ${backend.pid}`);
  const before = backend.pauses.length;
  const partsBefore = backend.pauseParts.length;
  const r = await revertPlan(backend, cur.value.plan);
  if (!r.ok) return r;
  return ok({ reverted: cur.value, execute: r.value, pauseUs: sum(backend.pauses.slice(before)), pauseParts: backend.pauseParts.slice(partsBefore) });
}

async function agentRead(agent: AgentConnection, at: bigint, size: number): Promise<Result<Uint8Array>> {
  const r = await agent.request(`read ${hex(at)} ${hex(size)}`);
  if (!r.ok) return r;
  const b = typeof r.value['bytes'] === 'string' ? hexToBytes(r.value['bytes']) : null;
  return b === null ? err('LIVE_PROTOCOL', 'read answer without bytes') : ok(b);
}

/**
 * Chooses the module a package is for when the user names none: the one loaded module whose
 * SizeOfImage and TimeDateStamp equal the package's target identity (the planner then checks
 * the whole identity).
 */
export function moduleMatching(target: { readonly sizeOfImage: number; readonly timeDateStamp: number }): ModuleChooser {
  return async (agent, pid) => {
    const mods = await listModules(agent);
    if (!mods.ok) return mods;
    const hits: string[] = [];
    for (const m of mods.value) {
      if (m.size !== target.sizeOfImage) continue;
      const lfanew = await agentRead(agent, m.base + 0x3cn, 4);
      if (!lfanew.ok) continue;
      const off = new DataView(lfanew.value.buffer).getUint32(0, true);
      const stamp = await agentRead(agent, m.base + BigInt(off) + 8n, 4);
      if (stamp.ok && new DataView(stamp.value.buffer).getUint32(0, true) === target.timeDateStamp) hits.push(m.name);
    }
    if (hits.length === 1) return ok(hits[0]!);
    if (hits.length === 0)
      return err('LIVE_MODULE_NOT_FOUND', `no module in process ${pid} matches the package's target (SizeOfImage ${hex(target.sizeOfImage)}, TimeDateStamp ${hex(target.timeDateStamp)})`);
    return err('USAGE_MODULE_AMBIGUOUS', `several modules in process ${pid} match the package (${hits.join(', ')}): name one with --module`);
  };
}

/** The names of the loaded modules that have a hotpatch applied (a state record), in load order. */
export async function modulesWithState(agent: AgentConnection): Promise<Result<string[]>> {
  const found = await agent.request(`find-marker 0x10000 0x7fffffff0000 ${bytesToHex(STATE_MAGIC)}`);
  if (!found.ok) return found;
  const bases = new Set<bigint>();
  for (const a of Array.isArray(found.value['regions']) ? (found.value['regions'] as unknown[]) : []) {
    if (typeof a !== 'string') continue;
    const head = await agentRead(agent, BigInt(a), HEADER);
    if (!head.ok) return head;
    const len = new DataView(head.value.buffer).getUint32(16, true);
    const all = await agentRead(agent, BigInt(a), HEADER + Math.min(len, 64 * 1024 * 1024));
    if (!all.ok) return all;
    const st = decodeStateRecord(all.value, asVa(BigInt(a)));
    if (!st.ok) return st;
    bases.add(st.value.module.base);
  }
  const mods = await listModules(agent);
  if (!mods.ok) return mods;
  return ok(mods.value.filter((m) => bases.has(m.base)).map((m) => m.name));
}

/** Chooses the module that has a hotpatch applied, when the user names none (for revert). */
export const moduleWithState: ModuleChooser = async (agent, pid) => {
  const found = await modulesWithState(agent);
  if (!found.ok) return found;
  const names = found.value;
  if (names.length === 1) return ok(names[0]!);
  if (names.length === 0) return err('REVERT_NOTHING_APPLIED', `no hotpatch is applied in process ${pid}`);
  return err('USAGE_MODULE_AMBIGUOUS', `hotpatches are applied to several modules in process ${pid} (${names.join(', ')}): name one with --module`);
};

/** One line for a live error that names the process (errors from the planner name only the image). */
export function inProcess(e: HotpatchError, pid: number): HotpatchError {
  return e.message.includes(`process ${pid}`) ? e : { ...e, message: `${e.message} (process ${pid})` };
}

