/** Every CLI command, in the order `hotpatch --help` lists them. One import per command file. */
import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../command.ts';
import pe from './pe.ts';
import functions from './functions.ts';
import diff from './diff.ts';
import build from './build.ts';
import verify from './verify.ts';
import apply from './apply.ts';
import live from './live.ts';
import revert from './revert.ts';
import inspect from './inspect.ts';
import keygen from './keygen.ts';
import demo from './demo.ts';
import bench from './bench.ts';
import bundle from './bundle.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: ReadonlyArray<CommandModule<GlobalArgs, any>> = [demo, pe, functions, diff, build, bundle, verify, apply, live, revert, inspect, keygen, bench];
