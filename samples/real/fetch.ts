/**
 * `npm run samples:fetch [LABEL...]`: downloads the real corpus (samples/real/manifest.json)
 * into samples/real/cache/, verifying each file's sha256; cached files are skipped.
 * Exit 0 when every file is present, 60 (SAMPLES_) otherwise, with one line per failure.
 */
import { exitCodeOf, formatError } from '../../common/errors.ts';
import { CACHE_DIR, fetchRealFile, fetchRealTree, realHosts, realPairs, realTrees, type RealFile } from './real-files.ts';

const labels = process.argv.slice(2);
const pairs = realPairs().filter((p) => labels.length === 0 || labels.includes(p.label));
const trees = realTrees().filter((t) => labels.length === 0 || labels.includes(t.label));
if (pairs.length === 0 && trees.length === 0) {
  process.stderr.write(`samples:fetch: no pair named ${labels.join(', ')}\n`);
  process.exit(2);
}
const files = new Map<string, RealFile>();
for (const p of pairs) for (const f of [p.old, p.new]) files.set(f.sha256, f);
// The programs the modules run in (node.exe), unless only some pairs were asked for.
if (labels.length === 0) for (const h of realHosts()) files.set(h.sha256, h);
let failed = 0;
let exit = 0;
for (const f of files.values()) {
  const t = Date.now();
  const r = fetchRealFile(f);
  if (r.ok) {
    process.stdout.write(`ok   ${f.package}@${f.version} ${f.path} (${Date.now() - t} ms)\n`);
  } else {
    failed++;
    exit = exitCodeOf(r.error.code);
    process.stderr.write(`FAIL ${f.package}@${f.version} ${f.path}: ${formatError(r.error)}\n`);
  }
}
let treeFailed = 0;
for (const t of trees) {
  for (const side of [t.old, t.new]) {
    const r = fetchRealTree(side);
    if (r.ok) process.stdout.write(`ok   ${side.package}@${side.version} tree (${side.files.length} files)\n`);
    else {
      treeFailed++;
      exit = exitCodeOf(r.error.code);
      process.stderr.write(`FAIL ${side.package}@${side.version} tree: ${formatError(r.error)}\n`);
    }
  }
}
process.stdout.write(`${files.size - failed}/${files.size} files present in ${CACHE_DIR}\n`);
if (trees.length > 0) process.stdout.write(`${2 * trees.length - treeFailed}/${2 * trees.length} package trees present\n`);
process.exit(failed + treeFailed === 0 ? 0 : exit);
