// @couchbase/couchbase-win32-x64-napi (MSVC C++: the Couchbase C++ SDK core with asio and
// BoringSSL, behind a napi binding). No server runs here, so the workload drives what answers
// without one, and only what answers at once: Connection.connect with connection strings the
// core refuses while parsing (its result comes back through the callback from the core's io
// thread), argument errors of the binding, and the Cas and MutationToken value classes. A
// connection string that names a host is left out: its answer depends on name resolution and
// on timers (the bootstrap timeout), not on the code alone (`couchbases://[::1]:x`, `couchbase://a b`
// and a number for the string start a bootstrap in 4.7.0). Operations on a Connection that
// was never connected are left out too: 4.6.0 faults reading 0x18 on them, with no patch.
// connect's arguments changed: 4.7.0 takes (connStr, credentials, dns, appTelemetry,
// enableTracing, orphanReporter, callback), 4.6.0 a tracing object at the fifth place and a
// metrics object before the callback, and each throws `Invalid argument` on the other's form.
// The function that unpacks them is left old by the `--skip-refused` package, so a patched
// 4.6.0 still takes 4.6.0's form: the workload passes 4.7.0's form and, when the binding
// throws `Invalid argument` on it, 4.6.0's, and prints the answer alone (as crc32's workload
// leaves out the argument types whose check stays old; for the same reason no call leaves out
// the callback: 4.6.0 and 4.7.0 throw different messages then). What answers is the core's
// connection-string parser and its error path back through the io thread.
// cbppVersion and cbppMetadata are strings the module init builds: a patch cannot change
// what init already built, so they are not printed. Serves couchbase-4.6.0-4.7.0.
'use strict';
const CONN_STRINGS = ['', 'couchbase://', 'couchbase://[::1', '://', 'couchbase://,', 'couchbase://[zz]'];
const CREDENTIALS = [{ username: 'u', password: 'p' }, { username: '', password: '' }, {}];
const show = (v) => {
  if (v === null || v === undefined) return String(v);
  if (v instanceof Error) return `Error ${v.message}${v.code === undefined ? '' : ` code=${v.code}`}`;
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x));
  } catch {
    return String(v);
  }
};
/** Calls `f(callback)`: what it throws, or what the callback receives (2 s at most: then `no answer`). */
const call = (f) =>
  new Promise((resolve) => {
    const t = setTimeout(() => resolve('no answer'), 2000);
    try {
      f((err, res) => {
        clearTimeout(t);
        resolve(`callback err=${show(err)} res=${show(res)}`);
      });
    } catch (e) {
      clearTimeout(t);
      resolve(`throws ${e && e.message}`);
    }
  });
/** connect in 4.7.0's argument form, else (`Invalid argument` thrown on it) in 4.6.0's. */
const connect = async (c, s, cred) => {
  const r = await call((done) => c.connect(s, cred, null, null, false, null, done));
  return r === 'throws Invalid argument' ? call((done) => c.connect(s, cred, null, null, null, null, null, done)) : r;
};
const attempt = (f) => {
  try {
    return show(f());
  } catch (e) {
    return `throws ${e && e.message}`;
  }
};
exports.run = async (cb) => {
  const out = [];
  for (const s of CONN_STRINGS)
    for (const [k, cred] of CREDENTIALS.entries()) {
      const c = new cb.Connection();
      out.push(`connect ${JSON.stringify(s)} cred ${k} ${await connect(c, s, cred)}`);
    }
  // Wrong arguments: the binding's own checks.
  const c = new cb.Connection();
  out.push(`connect no args ${await call(() => c.connect())}`);
  out.push(`cas ${attempt(() => new cb.Cas().toString())} ${attempt(() => new cb.Cas().toJSON())}`);
  out.push(`token ${attempt(() => new cb.MutationToken().toString())} ${attempt(() => new cb.MutationToken().toJSON())}`);
  return out;
};
exports.tick = (cb) => {
  new cb.Cas().toString();
  new cb.MutationToken().toJSON();
};
