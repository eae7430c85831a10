/**
 * Import rules checked by dependency-cruiser (test/layers.test.ts and .ci/check-layers.sh).
 * The compiler's stages import only downward, in STAGES order: a stage may import its own
 * folder and the stages before it, never a later one. No import cycles anywhere, and no
 * library or build code (samples/ included) imports a test helper (test/, a testing/ folder).
 */
/** Keep in step with ARCHITECTURE.md's layout table and compiler/README.md. */
const STAGES = ['image', 'disasm', 'eh', 'functions', 'match', 'diff', 'emit', 'verify'];

const stageRules = STAGES.slice(0, -1).map((stage, i) => ({
  name: `compiler-${stage}-imports-later-stage`,
  comment: `compiler/${stage}/ may import only ${STAGES.slice(0, i).join(', ') || 'nothing of the other stages'} (stages run ${STAGES.join(' -> ')})`,
  severity: 'error',
  from: { path: `^compiler/${stage}/` },
  to: { path: `^compiler/(${STAGES.slice(i + 1).join('|')})/` },
}));

module.exports = {
  forbidden: [
    ...stageRules,
    {
      name: 'compiler-stage-imports-entry',
      comment: 'compiler/index.ts is the library surface over all stages; no stage imports it',
      severity: 'error',
      from: { path: '^compiler/[^/]+/', pathNot: '\\.test\\.ts$' },
      to: { path: '^compiler/index\\.ts$' },
    },
    {
      name: 'no-circular',
      comment: 'an import cycle makes two modules one: untangle it',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'library-imports-test-helper',
      comment: 'library and build code (compiler, runtime, formats, common, cli, samples) imports no test helper',
      severity: 'error',
      from: { path: '^(compiler|runtime|formats|common|cli|samples)/', pathNot: ['\\.test\\.ts$', '/testing/'] },
      to: { path: ['^test/', '/testing/'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['node_modules', '(^|/)pkg/', '^samples/real/cache'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'] },
  },
};
