/**
 * A bundle applied to (or taken out of) a live process as one transaction across modules.
 * Every module is planned and applied through its own backend, but all backends share one
 * agent session, so every step of every module lands in the agent's one guard transaction
 * and undo log. The modules are switched one after another (each with the same planner,
 * state record and executor as `hotpatch live`). When a module fails, its own executor undoes
 * it, and the modules applied before it are taken out with their revert plans, newest first,
 * exactly as `hotpatch revert` would: their redirects are already live, so a thread may be
 * running their new code, and only the revert path honours that (the thread rule while the
 * original bytes go back; regions freed at commit only when no thread's registers or stack
 * still point into them). Replaying the agent's log (abandon) would free those regions at
 * once; it is the last resort, when a revert itself fails. These functions end the session
 * they are given: committed when the process is consistent, abandoned otherwise. No agent
 * change is needed: this is the TypeScript side driving several plans through one session.
 */
import { err, ok, type HotpatchError, type Result } from '../../../common/errors.ts';
import type { HotpatchPackage } from '../../../formats/package.ts';
import { listModules, openSiblingBackend, type AgentConnection, type CloseReport, type LoadedModule, type Win32AgentBackend } from '../win32-agent.ts';
import { applyLive, modulesWithState, revertLive, type LiveApplyReport, type LiveRevertReport } from './live.ts';

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

export interface LiveBundleReport {
  readonly applied: ReadonlyArray<{ readonly item: LiveBundleItem; readonly module: string; readonly report: LiveApplyReport }>;
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

/** Ends the session after a failure: committed when every earlier module was reverted, abandoned (agent log replay) otherwise. */
async function endAfterFailure(primary: Win32AgentBackend, e: HotpatchError, undo: Array<() => Promise<Result<unknown>>>): Promise<Result<never>> {
  for (const u of undo.reverse()) {
    const r = await u();
    if (!r.ok) {
      await primary.abandon();
      return err(e.code, `${e.message}; reverting an earlier module failed too (${r.error.code}: ${r.error.message}), so the agent rolled the session back`, e.offset);
    }
  }
  const c = await primary.close();
  if (!c.ok) return err(e.code, `${e.message}; then ${c.error.code}: ${c.error.message}`, e.offset);
  return { ok: false, error: undo.length === 0 ? e : { ...e, message: `${e.message}; the ${undo.length} module(s) applied before it were reverted` } };
}

/**
 * Applies every item whose module is loaded, in bundle order, on `primary`'s session, and
 * ends the session (see the module comment). On failure the error names the module, and no
 * module of the bundle is left applied.
 */
export async function applyBundleLive(primary: Win32AgentBackend, items: readonly LiveBundleItem[], attach: AttachModule = openSiblingBackend): Promise<Result<LiveBundleReport>> {
  const mods = await listModules(primary.agent);
  if (!mods.ok) {
    await primary.abandon();
    return mods;
  }
  const applied: Array<LiveBundleReport['applied'][number]> = [];
  const undo: Array<() => Promise<Result<unknown>>> = [];
  const notLoaded: LiveBundleItem[] = [];
  for (const item of items) {
    const m = loadedModuleFor(item, mods.value);
    if (m === null) {
      notLoaded.push(item);
      continue;
    }
    const b = await backendFor(primary, m.name, attach);
    if (!b.ok) return endAfterFailure(primary, { ...b.error, message: `${item.path}: ${b.error.message}` }, undo);
    const r = await applyLive(item.pkg, b.value);
    if (!r.ok) {
      const e = { ...r.error, message: `${item.path} (${m.name}): ${r.error.message}` };
      if (r.error.code === 'APPLY_ROLLBACK') {
        await primary.abandon(); // the module's own undo failed: only the agent's log can restore it
        return { ok: false, error: e };
      }
      return endAfterFailure(primary, e, undo);
    }
    applied.push({ item, module: m.name, report: r.value });
    const mine = b.value;
    undo.push(() => revertLive(mine));
  }
  const closed = await primary.close();
  if (!closed.ok) return closed;
  return ok({ applied, notLoaded, closed: closed.value });
}

/**
 * Reverts every module of the process that has a hotpatch applied, on `primary`'s session,
 * and ends it: committed on success; on failure abandoned, which puts back the modules
 * already reverted (nothing was freed yet: frees wait for the commit).
 */
export async function revertAllLive(
  primary: Win32AgentBackend,
  attach: AttachModule = openSiblingBackend,
): Promise<Result<{ readonly modules: ReadonlyArray<{ readonly module: string; readonly report: LiveRevertReport }>; readonly closed: CloseReport }>> {
  const fail = async (e: HotpatchError): Promise<Result<never>> => {
    await primary.abandon();
    return { ok: false, error: e };
  };
  const names = await modulesWithState(primary.agent);
  if (!names.ok) return fail(names.error);
  if (names.value.length === 0) return fail({ code: 'REVERT_NOTHING_APPLIED', message: `no hotpatch is applied in process ${primary.pid}` });
  const out: Array<{ module: string; report: LiveRevertReport }> = [];
  for (const name of names.value) {
    const b = await backendFor(primary, name, attach);
    if (!b.ok) return fail(b.error);
    const r = await revertLive(b.value);
    if (!r.ok) return fail({ ...r.error, message: `${name}: ${r.error.message}` });
    out.push({ module: name, report: r.value });
  }
  const closed = await primary.close();
  if (!closed.ok) return closed;
  return ok({ modules: out, closed: closed.value });
}
