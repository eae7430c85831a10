/**
 * The shape every CLI command follows: parse arguments (yargs), call library functions,
 * and return either output (JSON value + text rendering) or an error value. Printing,
 * `--json` and exit codes are handled here once, so every command behaves the same:
 * errors are one line on stderr (`CODE: message`) and a non-zero exit code from
 * common/errors.ts; with `--json` stdout also gets `{"error": {...}}`.
 */
import type { Argv, CommandModule } from 'yargs';
import { exitCodeOf, formatError, type HotpatchError, type Result } from '../common/errors.ts';

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
  if (json) process.stdout.write(`${toJson({ error: e })}\n`);
  process.stderr.write(`hotpatch: ${formatError(e).split('\n')[0]}\n`);
  process.exit(exitCodeOf(e.code));
}

/**
 * What a command module exports: its options and its handler. Its name and description live
 * in the registry (commands/index.ts), so that listing the commands loads none of them.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CommandBody = Pick<CommandModule<GlobalArgs, any>, 'builder' | 'handler'>;

/** Wraps a command: `run` returns a Result; this prints it and sets the exit code. */
export function defineCommand<A extends object>(spec: {
  readonly builder: (y: Argv<GlobalArgs>) => Argv<A>;
  readonly run: (argv: A & GlobalArgs) => Promise<Result<CommandOutput>> | Result<CommandOutput>;
}): CommandBody {
  const body: Pick<CommandModule<GlobalArgs, A>, 'builder' | 'handler'> = {
    builder: spec.builder,
    handler: async (argv) => {
      const args = argv as unknown as A & GlobalArgs;
      let result: Result<CommandOutput>;
      try {
        result = await spec.run(args);
      } catch (e) {
        // A thrown exception is a bug in hotpatch, not bad input; still one line, no stack
        // trace unless HOTPATCH_DEBUG asks for it.
        if (process.env['HOTPATCH_DEBUG']) console.error(e);
        const message = e instanceof Error ? e.message : String(e);
        process.stderr.write(`hotpatch: INTERNAL: ${message.split('\n')[0]}\n`);
        process.exit(1);
      }
      if (!result.ok) reportError(result.error, args.json);
      const out = result.value;
      process.stdout.write(args.json ? `${toJson(out.json)}\n` : out.text.endsWith('\n') ? out.text : `${out.text}\n`);
      if (out.exitCode !== undefined && out.exitCode !== 0) process.exitCode = out.exitCode;
    },
  };
  return body as CommandBody;
}
