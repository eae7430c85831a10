/**
 * A bundle applied to (or taken out of) a live process as one transaction across modules,
 * switched in ONE pause. Every module is planned through its own backend (same planner and
 * state record as `hotpatch live`), but all backends share one agent session and one
 * executor transaction (runtime/apply `openTransaction`). Each plan is cut at its suspended
 * span (runtime/apply/one-pause.ts): module after module, the steps before the span run at
 * once (region, code, unwind registration, state record, site pages made writable), so the
 * next module is planned with the earlier regions already taken; then one suspended span
 * holds every module's redirects (one agent `swap`: one suspension, every thread checked
 * against every site of every module, one resume); then every module's steps after the span.
 * A thread therefore sees every module switched or none. Until the span nothing is live: a
 * failure before or in it undoes every module's steps through the transaction. A failure
 * after it (restoring a protection, freeing a superseded region) undoes them too, the
 * redirects put back under a suspension that avoids the bytes restored. If that undo itself
 * fails, the session is abandoned and the agent replays its own log. These functions end the
 * session they are given: committed when the process is consistent, abandoned otherwise.
 */
import { err, ok, type HotpatchError, type Result } from '../../../common/errors.ts';
import type { HotpatchPackage } from '../../../formats/package.ts';
import { openTransaction, type Transaction } from '../../apply/execute-plan.ts';
import { cutAtSpan, mergeSpans } from '../../apply/one-pause.ts';
import type { WriteStep } from '../../plan/write-plan.ts';
import { listModules, openSiblingBackend, type AgentConnection, type CloseReport, type LoadedModule, type PauseParts, type Win32AgentBackend } from '../win32-agent.ts';
import { findLiveState, modulesWithState, prepareLive, type LiveState, type PreparedLive } from './live.ts';

/** One packaged entry of a bundle, its package already loaded and verified. */
export interface LiveBundleItem {
  /** The module's path in the release tree (its file name is what the process loaded). */
  readonly path: string;
  /** The module name the package targets (export name). */
  readonly moduleName: string;
  readonly pkg: HotpatchPackage;
}

/** Opens another module on the primary's session (injectable, e.g. to wrap a backend). */
export type AttachModule = (primary: Win32AgentBackend, name: string) => Promise<Result<Win32AgentBackend>>;

/** One module of a bundle as applied. */
export interface LiveBundleModule {
  readonly item: LiveBundleItem;
  readonly module: string;
  readonly prepared: PreparedLive;
}

/** The one pause that switched (or took out) every module. */
export interface BundlePause {
  /** Agent-measured pause (µs); 0 when no module had a redirect to write. */
  readonly pauseUs: number;
  /** Its parts (empty when there was no `swap`). */
  readonly pauseParts: readonly PauseParts[];
  /** How many pauses the switch took: 1 (0 when nothing was redirected). */
  readonly pauses: number;
}

export interface LiveBundleReport extends BundlePause {
  readonly applied: readonly LiveBundleModule[];
  /** Entries whose module is not loaded in the process. */
  readonly notLoaded: readonly LiveBundleItem[];
  /** The commit that ended the session. */
  readonly closed: CloseReport;
}

const fileName = (p: string): string => p.slice(p.lastIndexOf('/') + 1).toLowerCase();

/** The loaded module an entry applies to: by file name, else by the module name the package targets. */
export function loadedModuleFor(item: LiveBundleItem, loaded: readonly LoadedModule[]): LoadedModule | null {
  return loaded.find((m) => m.name.toLowerCase() === fileName(item.path)) ?? loaded.find((m) => m.name.toLowerCase() === item.moduleName.toLowerCase()) ?? null;
}

/** Chooses the first loaded module of the bundle, to open the session on (LIVE_MODULE_NOT_FOUND when none is loaded). */
export function firstLoadedModule(items: readonly LiveBundleItem[]): (agent: AgentConnection, pid: number) => Promise<Result<string>> {
  return async (agent, pid) => {
    const mods = await listModules(agent);
    if (!mods.ok) return mods;
    for (const it of items) {
      const m = loadedModuleFor(it, mods.value);
      if (m !== null) return ok(m.name);
    }
    return err('LIVE_MODULE_NOT_FOUND', `no module of the bundle is loaded in process ${pid} (${items.map((i) => fileName(i.path)).join(', ')})`);
  };
}

async function backendFor(primary: Win32AgentBackend, name: string, attach: AttachModule): Promise<Result<Win32AgentBackend>> {
  return (primary.module.name ?? '').toLowerCase() === name.toLowerCase() ? ok(primary) : attach(primary, name);
}

/**
 * Several modules' steps switched in one pause on one transaction: `stage` runs a module's
 * steps up to its suspended span at once and keeps the span and the rest; `switchAll` runs
 * one span for every staged module, then every module's remaining steps. Any failure undoes
 * every module's executed steps (the transaction's rollback) and prefixes the error with
 * the module (or `all modules` for the shared span).
 */
class OnePause {
  private readonly tx: Transaction = openTransaction();
  private readonly spans: WriteStep[][] = [];
  private readonly afters: Array<{ readonly backend: Win32AgentBackend; readonly label: string; readonly steps: readonly WriteStep[] }> = [];

  constructor(private readonly primary: Win32AgentBackend) {}

  async stage(backend: Win32AgentBackend, label: string, steps: readonly WriteStep[]): Promise<Result<void>> {
    const cut = cutAtSpan(steps);
    if (!cut.ok) return err(cut.error.code, `${label}: ${cut.error.message}`);
    const r = await this.tx.run(backend, cut.value.before);
    if (!r.ok) return err(r.error.code, `${label}: ${r.error.message}`, r.error.offset);
    this.spans.push([...cut.value.span]);
    this.afters.push({ backend, label, steps: cut.value.after });
    return ok(undefined);
  }

  async switchAll(): Promise<Result<BundlePause>> {
    const span = mergeSpans(this.spans);
    const pauses = this.primary.pauses.length;
    const parts = this.primary.pauseParts.length;
    const r = await this.tx.run(this.primary, span);
    if (!r.ok) return err(r.error.code, `all modules: ${r.error.message}`, r.error.offset);
    const pause: BundlePause = {
      pauseUs: this.primary.pauses.slice(pauses).reduce((a, b) => a + b, 0),
      pauseParts: this.primary.pauseParts.slice(parts),
      pauses: this.primary.pauses.length - pauses,
    };
    for (const a of this.afters) {
      const done = await this.tx.run(a.backend, a.steps);
      if (!done.ok) return err(done.error.code, `${a.label}: ${done.error.message}`, done.error.offset);
    }
    return ok(pause);
  }
}

/** Ends the session after a failed transaction: committed when it was rolled back, abandoned (agent log replay) when the rollback failed. */
async function endAfterFailure(primary: Win32AgentBackend, e: HotpatchError): Promise<Result<never>> {
  if (e.code === 'APPLY_ROLLBACK' || e.code === 'REVERT_ROLLBACK') {
    await primary.abandon();
    return err(e.code, `${e.message}; the agent rolled the session back`, e.offset);
  }
  const c = await primary.close();
  if (!c.ok) return err(e.code, `${e.message}; then ${c.error.code}: ${c.error.message}`, e.offset);
  return { ok: false, error: e };
}

/**
 * Applies every item whose module is loaded, in bundle order, on `primary`'s session, every
 * module switched in one pause, and ends the session (see the module comment). On failure
 * the error names the module, and no module of the bundle is left changed.
 */
export async function applyBundleLive(primary: Win32AgentBackend, items: readonly LiveBundleItem[], attach: AttachModule = openSiblingBackend): Promise<Result<LiveBundleReport>> {
  const mods = await listModules(primary.agent);
  if (!mods.ok) {
    await primary.abandon();
    return mods;
  }
  const applied: LiveBundleModule[] = [];
  const notLoaded: LiveBundleItem[] = [];
  const pause = new OnePause(primary);
  for (const item of items) {
    const m = loadedModuleFor(item, mods.value);
    if (m === null) {
      notLoaded.push(item);
      continue;
    }
    const label = `${item.path} (${m.name})`;
    const b = await backendFor(primary, m.name, attach);
    if (!b.ok) return endAfterFailure(primary, { ...b.error, message: `${label}: ${b.error.message}` });
    const p = await prepareLive(item.pkg, b.value);
    if (!p.ok) return endAfterFailure(primary, { ...p.error, message: `${label}: ${p.error.message}` });
    const staged = await pause.stage(b.value, label, p.value.steps);
    if (!staged.ok) return endAfterFailure(primary, staged.error);
    applied.push({ item, module: m.name, prepared: p.value });
  }
  const switched = await pause.switchAll();
  if (!switched.ok) return endAfterFailure(primary, switched.error);
  const closed = await primary.close();
  if (!closed.ok) return closed;
  return ok({ applied, notLoaded, closed: closed.value, ...switched.value });
}

/** What a bundle revert took out. */
export interface RevertAllReport extends BundlePause {
  readonly modules: ReadonlyArray<{ readonly module: string; readonly reverted: LiveState }>;
  readonly closed: CloseReport;
}

/**
 * Reverts every module of the process that has a hotpatch applied, on `primary`'s session,
 * every module switched back in one pause, and ends the session: committed on success;
 * on failure every module is left as it was (the transaction's rollback, else the agent's).
 */
export async function revertAllLive(primary: Win32AgentBackend, attach: AttachModule = openSiblingBackend): Promise<Result<RevertAllReport>> {
  const names = await modulesWithState(primary.agent);
  if (!names.ok) return endAfterFailure(primary, names.error);
  if (names.value.length === 0) return endAfterFailure(primary, { code: 'REVERT_NOTHING_APPLIED', message: `no hotpatch is applied in process ${primary.pid}` });
  const out: Array<{ module: string; reverted: LiveState }> = [];
  const pause = new OnePause(primary);
  for (const name of names.value) {
    const b = await backendFor(primary, name, attach);
    if (!b.ok) return endAfterFailure(primary, { ...b.error, message: `${name}: ${b.error.message}` });
    const st = await findLiveState(b.value);
    if (!st.ok) return endAfterFailure(primary, { ...st.error, message: `${name}: ${st.error.message}` });
    if (st.value === null) return endAfterFailure(primary, { code: 'REVERT_NOTHING_APPLIED', message: `${name}: no hotpatch is applied to it in process ${primary.pid}` });
    const staged = await pause.stage(b.value, name, st.value.plan.revert);
    if (!staged.ok) return endAfterFailure(primary, asRevert(staged.error));
    out.push({ module: name, reverted: st.value });
  }
  const switched = await pause.switchAll();
  if (!switched.ok) return endAfterFailure(primary, asRevert(switched.error));
  const closed = await primary.close();
  if (!closed.ok) return closed;
  return ok({ modules: out, closed: closed.value, ...switched.value });
}

/** Executor errors of a revert carry REVERT_ codes, as `revertPlan`'s do. */
function asRevert(e: HotpatchError): HotpatchError {
  return e.code.startsWith('APPLY_') ? { ...e, code: `REVERT_${e.code.slice('APPLY_'.length)}` } : e;
}
