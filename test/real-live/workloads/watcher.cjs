// @parcel/watcher (C++, MSVC): snapshots of a directory tree and the events since a snapshot
// (creates, updates, deletes, ignore globs), through the native binding's writeSnapshot and
// getEventsSince. Deterministic: a fresh tree under DIR/tree each round.
'use strict';
const fs = require('fs');
const path = require('path');
let round = 0;
exports.run = async (w, dir) => {
  const root = path.join(dir, `tree-${++round}`);
  fs.mkdirSync(path.join(root, 'a', 'b'), { recursive: true });
  for (let i = 0; i < 12; i++) fs.writeFileSync(path.join(root, i % 2 ? 'a' : 'a/b', `f${i}.txt`), `v${i}`);
  const snap = path.join(dir, `snap-${round}.txt`);
  const out = [];
  for (const opts of [{}, { ignore: [path.join(root, 'a', 'b')] }]) {
    await w.writeSnapshot(root, snap, opts);
    fs.writeFileSync(path.join(root, 'a', `new-${out.length}.txt`), 'n');
    fs.rmSync(path.join(root, 'a', 'f1.txt'), { force: true });
    fs.writeFileSync(path.join(root, 'a', 'b', 'f0.txt'), 'changed');
    const events = await w.getEventsSince(root, snap, opts);
    out.push(
      `opts=${JSON.stringify(Object.keys(opts))} ` +
        events
          .map((e) => `${e.type}:${path.relative(root, e.path).split(path.sep).join('/')}`)
          .sort()
          .join(' '),
    );
  }
  return out;
};
exports.tick = () => {};
