// @parcel/watcher (C++, MSVC): snapshots of a directory tree and the events since a snapshot
// (creates, updates, deletes; ignorePaths and ignoreGlobs; the windows and brute-force
// backends), a missing directory (an error) and an unknown backend (accepted), a live
// subscription (the windows backend's watcher thread), and the addon in a worker thread. Deterministic: a fresh tree under DIR/tree-N each round. Left out: a
// missing snapshot file (2.5.0 throws an error whose message is uninitialized bytes) and a
// subscription on brute-force (kills node.exe with 2.5.0: exit 9).
'use strict';
const fs = require('fs');
const path = require('path');
const { inWorker } = require('./worker.cjs');
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
exports.run = async (w, dir, addonPath) => {
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
  out.push(`subscription: ${await subscription(w, root)}`);
  out.push(...(await inWorker(addonPath, 'watcher')));
  return out;
};
// Subscribes (the windows backend starts its watcher thread), creates a file, unsubscribes
// after 300 ms. Events are not reported: whether Wine delivers one in time is not determined.
async function subscription(w, root) {
  const fn = () => {};
  await w.subscribe(root, fn, {});
  fs.writeFileSync(path.join(root, 'a', `watched-${round}.txt`), 'w');
  await new Promise((resolve) => setTimeout(resolve, 300));
  await w.unsubscribe(root, fn, {});
  return 'subscribed, unsubscribed';
}
exports.inWorker = async (w) => {
  const os = require('os');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hp-watcher-worker-'));
  fs.writeFileSync(path.join(root, 'x.txt'), 'x');
  const snap = path.join(root, '..', `${path.basename(root)}.snap`);
  await w.writeSnapshot(root, snap, {});
  fs.writeFileSync(path.join(root, 'y.txt'), 'y');
  const events = await w.getEventsSince(root, snap, {});
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(snap, { force: true });
  return [events.map((e) => `${e.type}:${path.basename(e.path)}`).sort().join(' ')];
};
exports.tick = () => {};
