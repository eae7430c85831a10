#!/usr/bin/env node
// Runs a TypeScript entry point (scripts, the bench) through tsx: `node bin/run-ts.js FILE.ts ARGS...`.
import { register } from 'tsx/esm/api';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const file = process.argv[2];
if (file === undefined) {
  process.stderr.write('usage: run-ts FILE.ts [ARGS...]\n');
  process.exit(2);
}
process.argv.splice(1, 1); // the script sees argv[1] = FILE.ts, then its own args
register();
await import(pathToFileURL(resolve(file)).href);
