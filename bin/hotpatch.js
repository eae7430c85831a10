#!/usr/bin/env node
// The `hotpatch` command: runs the compiled CLI (dist/, built by `npm run build`, which `npm ci`
// in a clone and `npm pack` run through `prepare`). No TypeScript is compiled at run time.
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('hotpatch: INTERNAL: dist/ is not built: run `npm run build` (npm ci runs it)\n');
  process.exit(1);
}
await import(main.href);
