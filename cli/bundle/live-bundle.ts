/**
 * `hotpatch live RELEASE.hpb --pid PID` and `hotpatch revert --pid PID` over several modules:
 * the bundle is loaded and every package verified before the agent starts; then every entry
 * whose module is loaded is applied as one transaction across modules
 * (runtime/backends/win32-agent/live-bundle.ts): any failure rolls every module back, only a
 * full success is committed. Entries with no loaded module are reported.
 */
import { err, ok, type Result } from '../../common/errors.ts';
import { hex } from '../../common/types.ts';
import { loadBundle } from '../../formats/bundle.ts';
import { loadPackage } from '../../formats/container.ts';
import type { PublicKey } from '../../formats/keys.ts';
import { openWin32Backend, type Win32AgentBackend } from '../../runtime/backends/win32-agent.ts';
import { inProcess } from '../../runtime/backends/win32-agent/live.ts';
import { applyBundleLive, firstLoadedModule, revertAllLive, type LiveBundleItem } from '../../runtime/backends/win32-agent/live-bundle.ts';
import type { CommandOutput } from '../command.ts';
import { keptLine, ms } from '../live-lines.ts';

export async function liveBundle(bytes: Uint8Array, file: string, pid: number, trusted: readonly PublicKey[], allowUnsigned: boolean): Promise<Result<CommandOutput>> {
  const t0 = performance.now();
  const l = await loadBundle(bytes, { trusted, allowUnsigned });
  if (!l.ok) return err(l.error.code, `${file}: ${l.error.message}`, l.error.offset);
  const items: LiveBundleItem[] = [];
  for (const { entry, package: pkg } of l.value.entries) {
    if (pkg === null || entry.oldPath === null) continue;
    const p = await loadPackage(pkg, { trusted, allowUnsigned });
    if (!p.ok) return err(p.error.code, `${file}: ${entry.oldPath}: ${p.error.message}`, p.error.offset);
    items.push({ path: entry.oldPath, moduleName: entry.moduleName, pkg: p.value.package });
  }
  if (items.length === 0) return err('LIVE_NOTHING_TO_APPLY', `${file}: no entry carries a package`);
  const opened = await openWin32Backend({ pid, module: firstLoadedModule(items) });
  if (!opened.ok) return opened;
  const backend = opened.value;
  const r = await applyBundleLive(backend, items); // ends the session: committed, or every module back as it was
  if (!r.ok) return { ok: false, error: inProcess(r.error, pid) };
  const closed = { value: r.value.closed };
  const totalMs = performance.now() - t0;
  const json = {
    pid,
    modules: r.value.applied.map((a) => ({
      path: a.item.path,
      module: a.module,
      series: a.prepared.plan.series,
      supersedes: a.prepared.plan.supersedes,
      functions: a.prepared.plan.functions.length,
      redirects: a.prepared.plan.redirects.length,
      stateRecord: hex(a.prepared.record),
    })),
    notLoaded: r.value.notLoaded.map((i) => i.path),
    // Every module switched in one pause (one agent swap): its time and parts.
    pauses: r.value.pauses,
    pauseUs: r.value.pauseUs,
    pauseParts: r.value.pauseParts,
    freedRegions: closed.value.freed,
    keptRegions: closed.value.kept.map((k) => hex(k)),
    totalMs: Math.round(totalMs * 1000) / 1000,
  };
  const lines = [
    `applied ${json.modules.length} module(s) of ${file} to process ${pid} as one transaction`,
    ...r.value.applied.map((a) => `  ${a.item.path.padEnd(28)} ${a.module}: ${a.prepared.plan.functions.length} function(s), ${a.prepared.plan.redirects.length} redirect(s)`),
    ...r.value.notLoaded.map((i) => `  ${i.path.padEnd(28)} not loaded in process ${pid}: not applied`),
    `every module switched in one pause of ${ms(r.value.pauseUs)} ms`,
    `total ${totalMs.toFixed(1)} ms`,
    keptLine(closed.value),
  ];
  return ok({ json, text: lines.join('\n') });
}

/** Reverts every module with a hotpatch applied, on an open session (abandoned on failure). */
export async function revertAll(backend: Win32AgentBackend, t0: number): Promise<Result<CommandOutput>> {
  const all = await revertAllLive(backend); // ends the session
  if (!all.ok) return { ok: false, error: inProcess(all.error, backend.pid) };
  const r = { value: all.value.modules };
  const closed = { value: all.value.closed };
  const totalMs = performance.now() - t0;
  const json = {
    pid: backend.pid,
    modules: r.value.map((x) => ({ module: x.module, series: x.reverted.plan.series, redirects: x.reverted.plan.redirects.length })),
    pauses: all.value.pauses,
    pauseUs: all.value.pauseUs,
    pauseParts: all.value.pauseParts,
    freedRegions: closed.value.freed,
    keptRegions: closed.value.kept.map((k) => hex(k)),
    totalMs,
  };
  const text = [
    `reverted ${r.value.length} module(s) in process ${backend.pid} as one transaction`,
    ...r.value.map((x) => `  ${x.module}: series "${x.reverted.plan.series.baseline}" sequence ${x.reverted.plan.series.sequence}, ${x.reverted.plan.redirects.length} redirect(s) removed`),
    `every module switched back in one pause of ${ms(all.value.pauseUs)} ms`,
    `total ${totalMs.toFixed(1)} ms`,
    keptLine(closed.value),
  ].join('\n');
  return ok({ json, text });
}
