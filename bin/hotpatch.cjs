#!/usr/bin/env node
// The `hotpatch` command: runs the compiled CLI (dist/, built by `npm run build`, which `npm ci`
// in a clone and `npm pack` run through `prepare`). No TypeScript is compiled at run time.
// CommonJS, as is the bundle it loads: Node then starts without its ES module loader, which
// `hotpatch --help` and `hotpatch pe FILE` do not need (scripts/bundle-cli.ts).
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const main = join(__dirname, '../dist/cli/main.cjs');
if (!existsSync(main)) {
  process.stderr.write('hotpatch: INTERNAL: dist/ is not built: run `npm run build` (npm ci runs it)\n');
  process.exit(1);
}
require(main);
