// @parcel/watcher (C++, MSVC): snapshots of a directory tree and the events since a snapshot
// (creates, updates, deletes; ignorePaths and ignoreGlobs; the windows and brute-force
// backends), a missing directory (an error) and an unknown backend (accepted). Deterministic:
// a fresh tree under DIR/tree-N each round. Left out:
// - a missing snapshot file (2.5.0 throws an error whose message is uninitialized bytes);
// - subscriptions: on brute-force one kills node.exe with 2.5.0 (exit 9); on the windows
//   backend (watcher thread, unsubscribed after 300 ms) and with the addon loaded again in a
//   worker thread, watcher tests died intermittently, once in NEW alone with no patch
//   involved (exit 9: 0xC0000409, the MSVC runtime's fast fail of abort/std::terminate).
//   Neither reached a redirected function the other calls do not (6 of 42 on 2.5.0 -> 2.5.1
//   with and without them).
'use strict';
const fs = require('fs');
const path = require('path');
let round = 0;
const OPTIONS = (root) => [{}, { ignore: [path.join(root, 'a', 'b')] }, { ignorePaths: [path.join(root, 'a', 'b')] }, { ignoreGlobs: ['.*\\.log$'] }, { backend: 'brute-force' }, { backend: 'windows', ignoreGlobs: ['^.*f[0-9]\\.txt$'] }];
const rel = (root, p) => path.relative(root, p).split(path.sep).join('/');
const settle = async (p) => {
  try {
    return `ok ${JSON.stringify((await p) ?? null)}`;
  } catch (e) {
    return `throws ${e && e.message}`.replace(/[A-Z]:\\[^\s'"]*/g, '<path>');
  }
};
exports.run = async (w, dir) => {
  const root = path.join(dir, `tree-${++round}`);
  fs.mkdirSync(path.join(root, 'a', 'b'), { recursive: true });
  for (let i = 0; i < 12; i++) fs.writeFileSync(path.join(root, i % 2 ? 'a' : 'a/b', `f${i}.${i % 3 ? 'txt' : 'log'}`), `v${i}`);
  const snap = path.join(dir, `snap-${round}.txt`);
  const out = [];
  for (const opts of OPTIONS(root)) {
    await w.writeSnapshot(root, snap, opts);
    fs.writeFileSync(path.join(root, 'a', `new-${out.length}.txt`), 'n');
    fs.rmSync(path.join(root, 'a', 'f1.txt'), { force: true });
    fs.writeFileSync(path.join(root, 'a', 'b', 'f0.log'), `changed ${out.length}`);
    const events = await w.getEventsSince(root, snap, opts);
    out.push(`opts=${JSON.stringify(Object.keys(opts))} ${events.map((e) => `${e.type}:${rel(root, e.path)}`).sort().join(' ')}`);
  }
  out.push(`missing dir: ${await settle(w.writeSnapshot(path.join(root, 'nope'), snap, {}))}`);
  out.push(`unknown backend: ${await settle(w.writeSnapshot(root, snap, { backend: 'no-such-backend' }))}`);
  return out;
};
exports.tick = () => {};
