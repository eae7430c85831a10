import { defineConfig } from 'vitest/config';

// Every run also writes vitest's JSON report; .ci/run counts passed/failed from it.
export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/target/**', '.git/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // One Wine program held for the run: the prefix's wineserver never exits between tests.
    globalSetup: ['test/support/wine-global-setup.ts'],
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest/results.json' },
  },
});
