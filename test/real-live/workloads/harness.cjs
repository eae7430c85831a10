// Runs in a real Windows node.exe (under Wine): node.exe harness.js WORKLOAD ADDON DIR once|serve
// (WORKLOAD.run(addon, DIR, ADDON) returns the round's lines, or a promise of them)
// once:  runs the workload once, writes DIR/round-1.txt, exits.
// serve: writes DIR/pid (the Windows pid hotpatch live takes), runs round 1, then keeps a timer
//        calling the addon (WORKLOAD.tick; not while DIR/quiet exists) and runs round N whenever DIR/go-N appears
//        (writing DIR/round-N.txt), until DIR/quit appears. Files, not pipes: a pipe gives
//        node.exe EBADF under Wine.
'use strict';
const fs = require('fs');
const path = require('path');
const [, , workloadName, addonPath, dir, mode] = process.argv;
const workload = require(path.join(__dirname, `${workloadName}.cjs`));
const addon = require(addonPath);
const write = (name, text) => {
  fs.writeFileSync(path.join(dir, `${name}.tmp`), text);
  fs.renameSync(path.join(dir, `${name}.tmp`), path.join(dir, name));
};
const round = (n) =>
  Promise.resolve()
    .then(() => workload.run(addon, dir, addonPath))
    .then(
      (lines) => lines.join('\n') + '\n',
      (e) => `error ${e && e.message}\n`,
    )
    .then((text) => write(`round-${n}.txt`, text));
if (mode === 'once') {
  round(1);
} else {
  write('pid', String(process.pid));
  round(1);
  let ticks = 0;
  let tickErrors = 0;
  // While DIR/quiet exists the timer skips its calls and writes DIR/quiet-ack: what the
  // reach probe counts in a round is then the round's alone.
  let quiet = false;
  const timer = setInterval(() => {
    if (quiet) return;
    try {
      workload.tick(addon);
      ticks++;
    } catch {
      tickErrors++;
    }
  }, 1);
  let next = 2;
  let busy = false;
  const poll = setInterval(() => {
    const q = fs.existsSync(path.join(dir, 'quiet'));
    if (q && !quiet) write('quiet-ack', '');
    quiet = q;
    if (!busy && fs.existsSync(path.join(dir, `go-${next}`))) {
      busy = true;
      const n = next++;
      write(`ticks-${n}.txt`, `${ticks} ${tickErrors}\n`);
      round(n).then(() => (busy = false));
    }
    if (fs.existsSync(path.join(dir, 'quit'))) {
      clearInterval(timer);
      clearInterval(poll);
    }
  }, 20);
}
