/**
 * Every CLI command, in the order `hotpatch --help` lists them: its command string
 * (name and positionals), its one-line description, and how to load its module. The module
 * (`export default defineCommand({ builder, run })`) is imported only when that command runs,
 * so `hotpatch --help` and `hotpatch pe FILE` never load the compiler, iced-x86, protobufjs
 * or zstd-codec. A new command is one line here plus its file.
 */
import type { CommandBody } from '../command.ts';

export interface CommandEntry {
  /** Command string: the name, then `<required>` / `[optional]` positionals. */
  readonly command: string;
  readonly describe: string;
  readonly load: () => Promise<{ readonly default: CommandBody }>;
}

export const commands: readonly CommandEntry[] = [
  { command: 'demo [scenario]', describe: 'run the whole pipeline on a bundled sample pair: build, inspect, apply in memory, revert; sizes and times', load: () => import('./demo.ts') },
  { command: 'pe <file>', describe: 'show what the PE parser reads from FILE: headers, sections, directories, counts', load: () => import('./pe.ts') },
  { command: 'functions <file>', describe: 'list the functions found in a PE file (.pdata, exports, symbols, entry point, recursive descent)', load: () => import('./functions.ts') },
  { command: 'diff <old> <new>', describe: 'function-level diff of two builds with a hotpatch verdict per change (exit 30 when a change is refused)', load: () => import('./diff.ts') },
  { command: 'build <old> <new>', describe: 'build a signed hotpatch package that turns OLD into NEW (verified before it is written)', load: () => import('./build.ts') },
  { command: 'bundle <old> <new>', describe: 'one signed bundle (.hpb) for a release: pairs the modules of two trees and builds each changed one in parallel', load: () => import('./bundle.ts') },
  { command: 'verify <old> <new> <patch>', describe: 'prove that a package turns OLD into NEW (each carried function, instruction for instruction)', load: () => import('./verify.ts') },
  { command: 'apply <patch>', describe: 'apply PATCH to an in-memory process image of --image OLD; prints per-function and total apply time', load: () => import('./apply.ts') },
  { command: 'live <patch>', describe: 'apply a hotpatch package to a module of a running process (win32 agent; Wine on Linux)', load: () => import('./live.ts') },
  { command: 'revert', describe: 'undo the hotpatch applied to a module of a running process (back to the baseline)', load: () => import('./revert.ts') },
  { command: 'inspect <patch>', describe: 'show what a package holds, its signature status and its size breakdown', load: () => import('./inspect.ts') },
  { command: 'keygen', describe: 'create an Ed25519 key pair for signing packages (DIR/hotpatch.key, DIR/hotpatch.pub)', load: () => import('./keygen.ts') },
  { command: 'bench [sections..]', describe: 'run the benchmarks (size and time vs bsdiff/xdelta3/zstd, apply, live) and write bench/results/', load: () => import('./bench.ts') },
];

/** The command name of a command string (`'pe <file>'` -> `'pe'`). */
export function commandName(entry: CommandEntry): string {
  return entry.command.split(' ')[0]!;
}
