/**
 * `hotpatch revert --pid PID [--module NAME]`: undoes what `hotpatch live` applied to a module
 * (without --module: to every module, e.g. a whole bundle, as one transaction)
 * of a running process (back to the baseline), found through the state record the apply
 * left in the process (see runtime/backends/win32-agent/live.ts). Prints the pause and the
 * total time.
 */
import { err, ok, type Result } from '../../common/errors.ts';
import { hex } from '../../common/types.ts';
import { openWin32Backend } from '../../runtime/backends/win32-agent.ts';
import { inProcess, modulesWithState, revertLive } from '../../runtime/backends/win32-agent/live.ts';
import type { ModuleChooser } from '../../runtime/backends/win32-agent.ts';
import { defineCommand, type CommandOutput } from '../command.ts';
import { checkPid, keptLine, ms } from '../live-lines.ts';

/** The first module with a hotpatch applied (REVERT_NOTHING_APPLIED when none). */
const firstModuleWithState: ModuleChooser = async (agent, pid) => {
  const names = await modulesWithState(agent);
  if (!names.ok) return names;
  return names.value[0] === undefined ? err('REVERT_NOTHING_APPLIED', `no hotpatch is applied in process ${pid}`) : ok(names.value[0]);
};

export default defineCommand({
  args: {
    options: {
      pid: { type: 'number', demandOption: true, describe: 'Windows process id of the target (under Wine: the pid the process itself reports)' },
      module: { type: 'string', describe: 'module file name in the target, e.g. v1.dll (default: every module with a hotpatch applied, e.g. a whole bundle, as one transaction)' },
    },
    epilog: 'On Linux the agent runs under `wine` in $WINEPREFIX, which must be the prefix the target runs in.',
  },
  run: async (argv): Promise<Result<CommandOutput>> => {
    const t0 = performance.now();
    const pid = checkPid(argv.pid);
    if (!pid.ok) return pid;
    const opened = await openWin32Backend({ pid: pid.value, module: argv.module ?? firstModuleWithState });
    if (!opened.ok) return opened;
    const backend = opened.value;
    if (argv.module === undefined) {
      // Without --module: everything hotpatch applied in the process (a whole bundle) goes, as one transaction.
      const all = await modulesWithState(backend.agent);
      if (!all.ok) {
        await backend.abandon();
        return all;
      }
      // Loaded on demand: only a multi-module revert needs the bundle code.
      if (all.value.length > 1) return (await import('../bundle/live-bundle.ts')).revertAll(backend, t0);
    }
    const r = await revertLive(backend);
    if (!r.ok) {
      await backend.abandon();
      return { ok: false, error: inProcess(r.error, pid.value) };
    }
    const closed = await backend.close();
    if (!closed.ok) return closed;
    const totalMs = performance.now() - t0;
    const { plan } = r.value.reverted;
    const json = {
      pid: pid.value,
      module: backend.module.name,
      base: hex(backend.module.base),
      series: plan.series,
      functions: plan.functions.map((f) => ({ name: f.name, status: f.status, oldVa: f.oldVa === null ? null : hex(f.oldVa) })),
      pauseUs: r.value.pauseUs,
      pauseParts: r.value.pauseParts,
      releasePauseUs: closed.value.releasePauseUs,
      freedRegions: closed.value.freed,
      keptRegions: closed.value.kept.map((k) => hex(k)),
      executeMs: r.value.execute.totalMs,
      totalMs,
    };
    const text =
      `reverted series "${plan.series.baseline}" sequence ${plan.series.sequence} on ${backend.module.name ?? '?'} at ${hex(backend.module.base)} in process ${pid.value}: ` +
      `${plan.redirects.length} redirect(s) removed\n` +
      `pause ${ms(r.value.pauseUs)} ms (threads suspended), total ${totalMs.toFixed(1)} ms\n` +
      keptLine(closed.value);
    return ok({ json, text });
  },
});
