#!/usr/bin/env node
// The `hotpatch` command. The sources are TypeScript; tsx compiles them on load so a
// checkout works right after `npm ci`, with no build step to forget.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
