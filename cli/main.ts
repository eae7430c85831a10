/**
 * `hotpatch`: the command line. A thin layer over the library; see cli/commands/.
 * Only the module of the command being run is loaded (cli/commands/index.ts); the others are
 * registered by name and description alone, which is all `--help`, `strict()` and
 * "did you mean" need.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { commandName, commands } from './commands/index.ts';

const args = hideBin(process.argv);
// The first word that is not an option names the command (the global options take no value).
const invoked = args.find((a) => !a.startsWith('-'));

const cli = yargs(args)
  .scriptName('hotpatch')
  .usage('$0 <command> [options]\n\nBuild, inspect and apply function-level hotpatch packages for Windows PE binaries.')
  .option('json', { type: 'boolean', default: false, describe: 'machine-readable output on stdout' })
  .strict()
  .demandCommand(1, 'name a command; see --help')
  .recommendCommands()
  .help()
  .alias('h', 'help')
  .version(false)
  .wrap(Math.min(110, process.stdout.columns ?? 110))
  .fail((msg, e) => {
    // Usage errors: one line, exit 2. (Thrown errors inside handlers are caught in command.ts.)
    const line = (msg ?? e?.message ?? 'usage error').split('\n')[0];
    process.stderr.write(`hotpatch: USAGE: ${line}\n`);
    process.exit(2);
  });
for (const c of commands) {
  if (commandName(c) === invoked) cli.command({ command: c.command, describe: c.describe, ...(await c.load()).default });
  else cli.command(c.command, c.describe);
}
await cli.parseAsync();
