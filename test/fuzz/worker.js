// Fuzz worker entry (plain JS so a worker thread can start it): registers tsx, then runs the
// TypeScript worker (test/fuzz/worker-main.ts).
import { register } from 'tsx/esm/api';

register();
await import('./worker-main.ts');
