/**
 * `hotpatch live PATCH.hpk --pid PID [--module NAME] [--trust PUB... | --allow-unsigned]`:
 * loads and verifies the package, attaches the win32 agent to the running process, plans
 * against the module as it is in memory (same planner as `hotpatch apply`), and applies the
 * plan as one transaction together with the state record `hotpatch revert` needs. When a
 * package of the same series is applied, this one supersedes it. Prints the pause (how long
 * the target's threads were suspended) and the total time.
 */
import { err, ok, type Result } from '../../common/errors.ts';
import { hex } from '../../common/types.ts';
import { loadPackage } from '../../formats/container.ts';
import { signatureLine } from '../../formats/describe.ts';
import { openWin32Backend } from '../../runtime/backends/win32-agent.ts';
import { applyLive, inProcess, moduleMatching } from '../../runtime/backends/win32-agent/live.ts';
import { defineCommand, type CommandOutput } from '../command.ts';
import { readInputFile } from './pe.ts';
import { checkPid, keptLine, ms } from '../live-lines.ts';
import { readTrustedKeys } from '../trusted-keys.ts';
import { isBundle } from '../../formats/bundle.ts';
import { liveBundle } from '../bundle/live-bundle.ts';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { mapImage } from '../../runtime/pe/map-image.ts';
import { parsePe } from '../../runtime/pe/parse-pe.ts';

/**
 * Where a module path the target reports lives on this machine: itself on Windows; under
 * Wine, through the prefix's drive links (`Z:\a\b.dll` -> `$WINEPREFIX/dosdevices/z:/a/b.dll`).
 */
export function hostPathOf(windowsPath: string, env: NodeJS.ProcessEnv = process.env): string | null {
  if (process.platform === 'win32') return windowsPath;
  const m = /^([A-Za-z]):\\(.*)$/.exec(windowsPath);
  if (m === null) return null;
  const prefix = env['WINEPREFIX'] ?? join(homedir(), '.wine');
  return join(prefix, 'dosdevices', `${m[1]!.toLowerCase()}:`, ...m[2]!.split('\\'));
}

/** The module's file mapped at its preferred base (the reference that names a differing byte), or null. */
function moduleFileImage(windowsPath: string | null): Uint8Array | null {
  const p = windowsPath === null ? null : hostPathOf(windowsPath);
  if (p === null) return null;
  try {
    const bytes = new Uint8Array(readFileSync(p));
    const pe = parsePe(bytes);
    if (!pe.ok) return null;
    const img = mapImage(bytes, pe.value.optionalHeader.imageBase);
    return img.ok ? img.value : null;
  } catch {
    return null;
  }
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

export default defineCommand({
  args: {
    positionals: {
      patch: { describe: 'the package (.hpk), or a bundle (.hpb): every entry whose module is loaded, as one transaction' },
    },
    options: {
      pid: { type: 'number', demandOption: true, describe: 'Windows process id of the target (under Wine: the pid the process itself reports)' },
      module: { type: 'string', describe: "module file name in the target, e.g. v1.dll (default: the one module matching the package's target identity)" },
      trust: { type: 'string', array: true, default: [], describe: 'public key (PEM) the package must be signed with; repeatable' },
      'allow-unsigned': { type: 'boolean', default: false, describe: 'also accept a package that carries no signature (a signed one is always verified)' },
    },
    epilog: 'On Linux the agent runs under `wine` in $WINEPREFIX, which must be the prefix the target runs in.',
  },
  run: async (argv): Promise<Result<CommandOutput>> => {
    const t0 = performance.now();
    const pid = checkPid(argv.pid);
    if (!pid.ok) return pid;
    const trust = argv.trust ?? [];
    if (trust.length === 0 && !argv['allow-unsigned']) return err('USAGE_TRUST', 'give --trust PUB (the signer\'s public key) or --allow-unsigned');
    const file = readInputFile(argv.patch);
    if (!file.ok) return file;
    const keys = await readTrustedKeys(trust);
    if (!keys.ok) return keys;
    if (isBundle(file.value)) return liveBundle(file.value, argv.patch, pid.value, keys.value, argv['allow-unsigned']);
    const loaded = await loadPackage(file.value, { trusted: keys.value, allowUnsigned: argv['allow-unsigned'] });
    if (!loaded.ok) return loaded;
    const pkg = loaded.value.package;
    const tLoaded = performance.now();

    const opened = await openWin32Backend({ pid: pid.value, module: argv.module ?? moduleMatching(pkg.target) });
    if (!opened.ok) return opened;
    const backend = opened.value;
    const tAttached = performance.now();
    const r = await applyLive(pkg, backend, { reference: () => Promise.resolve(moduleFileImage(backend.module.path ?? null)) });
    if (!r.ok) {
      // The executor has already undone a failed transaction; abandoning also replays the
      // agent's own log, so even a half-undone state goes back to what it was.
      await backend.abandon();
      return { ok: false, error: inProcess(r.error, pid.value) };
    }
    const closed = await backend.close();
    if (!closed.ok) return closed;
    const totalMs = performance.now() - t0;
    const a = r.value;
    const p = a.plan;
    const json = {
      pid: pid.value,
      signature: loaded.value.signature,
      module: backend.module.name,
      base: hex(backend.module.base),
      series: p.series,
      supersedes: a.supersedes,
      region: { address: hex(p.region.address), size: p.region.size, codeSize: p.region.codeSize },
      unwind: p.unwind === null ? null : { table: hex(p.unwind.table), entryCount: p.unwind.entryCount },
      redirects: p.redirects.map((x) => ({ name: x.name, functionVa: hex(x.functionVa), target: hex(x.target), kind: x.kind })),
      functions: a.functions.map((f) => ({ name: f.name, status: f.status, oldVa: f.oldVa === null ? null : hex(f.oldVa), bodyVa: hex(f.bodyVa), size: f.size })),
      stateRecord: hex(a.record),
      bytesWritten: a.execute.bytesWritten,
      freedRegions: closed.value.freed,
      keptRegions: closed.value.kept.map((k) => hex(k)),
      timing: {
        pauseUs: a.pauseUs,
        // The same pause seen from this process (includes the pipe round trips to the agent).
        pauseWallMs: round(a.execute.pauseMs),
        releasePauseUs: closed.value.releasePauseUs,
        loadPackageMs: round(tLoaded - t0),
        attachMs: round(tAttached - tLoaded),
        planMs: round(a.planMs),
        executeMs: round(a.execute.totalMs),
        totalMs: round(totalMs),
      },
    };
    const fnLines = a.functions.map((f) => `  ${f.status.padEnd(7)} ${f.name ?? '(unnamed)'} ${f.oldVa === null ? '' : `${hex(f.oldVa)} -> `}${hex(f.bodyVa)} (${f.size} bytes)`);
    const text =
      `applied series "${p.series.baseline}" sequence ${p.series.sequence}${a.supersedes === null ? '' : ` (superseding ${a.supersedes})`} to ${backend.module.name ?? '?'} at ${hex(backend.module.base)} in process ${pid.value}\n` +
      `signature: ${signatureLine(loaded.value.signature)}\n` +
      `${fnLines.join('\n')}\n` +
      `region ${hex(p.region.address)} (${p.region.size} bytes), ${p.redirects.length} redirect(s), state record ${hex(a.record)}\n` +
      `pause ${ms(a.pauseUs)} ms (threads suspended), plan ${a.planMs.toFixed(1)} ms, execute ${a.execute.totalMs.toFixed(1)} ms, total ${totalMs.toFixed(1)} ms\n` +
      keptLine(closed.value);
    return ok({ json, text });
  },
});
