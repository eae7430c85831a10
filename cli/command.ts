/**
 * The shape every CLI command follows: declare arguments (cli/args.ts), call library functions,
 * and return either output (JSON value + text rendering) or an error value. Printing,
 * `--json` and exit codes are handled here once, so every command behaves the same:
 * errors are one line on stderr (`CODE: message`) and a non-zero exit code from
 * common/errors.ts; with `--json` stdout also gets `{"error": {...}}`.
 */
import type { ArgsSpec, ArgvOf } from './args.ts';
import { exitCodeOf, formatError, type HotpatchError, type Result } from '../common/errors.ts';
import { writeStderr, writeStdout } from './stdio.ts';

export interface CommandOutput {
  /** Machine-readable result, printed with --json (bigints become hex strings). */
  readonly json: unknown;
  /** Human-readable rendering, printed without --json. */
  readonly text: string;
  /** Exit code for a completed command that still reports failure (e.g. a refused diff); default 0. */
  readonly exitCode?: number;
}

export interface GlobalArgs {
  readonly json: boolean;
}

export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v), 2);
}

function reportError(e: HotpatchError, json: boolean): never {
  if (json) writeStdout(`${toJson({ error: e })}\n`);
  writeStderr(`hotpatch: ${formatError(e).split('\n')[0]}\n`);
  process.exit(exitCodeOf(e.code));
}

/**
 * What a command module exports: its arguments and its handler. Its name and description live
 * in the registry (commands/index.ts), so that listing the commands loads none of them.
 */
export interface CommandBody {
  readonly args: ArgsSpec;
  /** Runs the command with the parsed arguments; prints its output and sets the exit code. */
  readonly handler: (argv: Record<string, unknown>) => Promise<void>;
}

/**
 * Wraps a command: `run` returns a Result; this prints it and sets the exit code. `run` gets
 * the arguments typed from `args` (kebab-case names, as declared).
 */
export function defineCommand<const S extends ArgsSpec>(spec: {
  readonly args: S;
  readonly run: (argv: ArgvOf<S> & GlobalArgs) => Promise<Result<CommandOutput>> | Result<CommandOutput>;
}): CommandBody {
  return {
    args: spec.args,
    handler: async (argv) => {
      const args = argv as unknown as ArgvOf<S> & GlobalArgs;
      let result: Result<CommandOutput>;
      try {
        result = await spec.run(args);
      } catch (e) {
        // A thrown exception is a bug in hotpatch, not bad input; still one line, no stack
        // trace unless HOTPATCH_DEBUG asks for it.
        if (process.env['HOTPATCH_DEBUG']) console.error(e);
        const message = e instanceof Error ? e.message : String(e);
        writeStderr(`hotpatch: INTERNAL: ${message.split('\n')[0]}\n`);
        process.exit(1);
      }
      if (!result.ok) reportError(result.error, args.json);
      const out = result.value;
      writeStdout(args.json ? `${toJson(out.json)}\n` : out.text.endsWith('\n') ? out.text : `${out.text}\n`);
      if (out.exitCode !== undefined && out.exitCode !== 0) process.exitCode = out.exitCode;
    },
  };
}
