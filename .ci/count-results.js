#!/usr/bin/env node
// Prints `N passed, N failed[, N skipped]` from vitest's JSON report; exits 1 when the
// report is missing or no test ran at all.
import { readFileSync } from 'node:fs';

const path = process.argv[2] ?? '.vitest/results.json';
let report;
try {
  report = JSON.parse(readFileSync(path, 'utf8'));
} catch (e) {
  console.log(`0 passed, 1 failed`);
  console.error(`no vitest report at ${path}: ${e.message}`);
  process.exit(1);
}
const passed = report.numPassedTests ?? 0;
// A test file that failed to load (syntax error, failing import, failing beforeAll) has
// status "failed" but no failed test: count each such file as one failure.
// (numFailedTestSuites counts describe blocks, so it cannot be used for this.)
const brokenFiles = (report.testResults ?? []).filter(
  (s) => s.status === 'failed' && !(s.assertionResults ?? []).some((a) => a.status === 'failed'),
).length;
const failed = (report.numFailedTests ?? 0) + brokenFiles;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(passed === 0 || failed > 0 ? 1 : 0);
