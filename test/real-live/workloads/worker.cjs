// Runs a workload's `inWorker(addon)` in a new worker thread of node.exe that loads the addon
// again: a new OS thread (the addon's DllMain / TLS callbacks see a thread attach and, when it
// ends, a detach: C and C++ runtime, Rust std), and the addon's module init in a second
// environment. Patched runtime code is reached this way where the addon's API calls reach
// none (test/real-live/README.md, "What each workload reaches"). Deterministic: the worker's
// result lines, in order.
'use strict';
const path = require('path');
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');

exports.inWorker = (addonPath, workloadName) =>
  new Promise((resolve, reject) => {
    const w = new Worker(__filename, { workerData: { addonPath, workloadName } });
    let lines = null;
    w.once('message', (m) => (lines = m));
    w.once('error', reject);
    w.once('exit', (code) => (code === 0 && lines !== null ? resolve(lines.map((l) => `worker ${l}`)) : reject(new Error(`worker exited ${code}`))));
  });

if (!isMainThread && workerData && workerData.workloadName) {
  const addon = require(workerData.addonPath);
  const workload = require(path.join(__dirname, `${workerData.workloadName}.cjs`));
  Promise.resolve(workload.inWorker(addon)).then((lines) => parentPort.postMessage(lines));
}
