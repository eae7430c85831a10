/**
 * `hotpatch`: the command line. A thin layer over the library; see cli/commands/.
 * Only the module of the command being run is loaded (cli/commands/index.ts); the others are
 * known by name and description alone, which is all `--help` and "did you mean" need.
 * Arguments are parsed by cli/args.ts (Node's parseArgs; it says why not yargs).
 */
import { closestName, commandHelp, mainHelp, parseCommandArgs, wantsHelp } from './args.ts';
import { commandName, commands } from './commands/index.ts';
import { writeStderr, writeStdout } from './stdio.ts';

const INTRO = 'Build, inspect and apply function-level hotpatch packages for Windows PE binaries.';

/** Usage errors: one line, exit 2; with --json also the error document on stdout. */
function usageError(message: string, json: boolean): never {
  if (json) writeStdout(`${JSON.stringify({ error: { code: 'USAGE', message } }, null, 2)}\n`);
  writeStderr(`hotpatch: USAGE: ${message}\n`);
  process.exit(2);
}

/** Runs the command named in `args` (process.argv without node and the script). */
async function main(args: readonly string[]): Promise<void> {
  const json = args.includes('--json');
  // The first word that is not an option names the command (the global options take no value).
  const index = args.findIndex((a) => !a.startsWith('-'));
  const invoked = index < 0 ? undefined : args[index]!;
  const entry = commands.find((c) => commandName(c) === invoked);

  if (entry === undefined) {
    if (invoked === undefined && wantsHelp(args)) {
      writeStdout(mainHelp(INTRO, commands));
    } else if (invoked === undefined) {
      usageError('name a command; see hotpatch --help', json);
    } else {
      const guess = closestName(invoked, commands.map(commandName));
      usageError(`unknown command ${invoked}${guess === undefined ? '' : `; did you mean ${guess}?`} (see hotpatch --help)`, json);
    }
    return;
  }
  const rest = [...args.slice(0, index), ...args.slice(index + 1)];
  const body = (await entry.load()).default;
  if (wantsHelp(rest)) {
    writeStdout(commandHelp(entry.command, entry.describe, body.args));
  } else {
    const parsed = parseCommandArgs(entry.command, body.args, rest);
    if (!parsed.ok) usageError(parsed.error.usage, json);
    await body.handler(parsed.value);
  }
}

// No top-level await: the built CLI is a CommonJS bundle (scripts/build.ts), which cannot hold
// one. A command's own failures are handled in cli/command.ts; what reaches here (a command
// module that cannot be loaded) is a bug or a broken install, reported in one line.
main(process.argv.slice(2)).catch((e: unknown) => {
  if (process.env['HOTPATCH_DEBUG']) console.error(e);
  writeStderr(`hotpatch: INTERNAL: ${(e instanceof Error ? e.message : String(e)).split('\n')[0] ?? ''}\n`);
  process.exit(1);
});
