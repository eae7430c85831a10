/** `hotpatch`: the command line. A thin layer over the library; see cli/commands/. */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { commands } from './commands/index.ts';

const cli = yargs(hideBin(process.argv))
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
for (const c of commands) cli.command(c);
await cli.parseAsync();
