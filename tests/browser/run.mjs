// Runs the console's browser tests: every tests/*.mjs module exports
// `tests`, a list of {name, run(t)}. Prints one line per test:
//   RESULT {"name": ..., "ok": true|false, "error": ...}
// which tests/integration/test_console.py turns into Python tests.
//   node run.mjs --list       the names, one a line
//   node run.mjs [NAME...]    run all, or only these
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { launch, Skip } from './lib.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TIMEOUT_MS = Number(process.env.ZTP_BROWSER_TEST_TIMEOUT_MS || 120000);

async function loadTests() {
  const dir = path.join(HERE, 'tests');
  const all = [];
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.mjs')).sort()) {
    const mod = await import(pathToFileURL(path.join(dir, f)).href);
    for (const t of mod.tests) all.push(t);
  }
  const seen = new Set();
  for (const t of all) {
    if (seen.has(t.name)) throw new Error('two browser tests are named ' + t.name);
    seen.add(t.name);
  }
  return all;
}

function withTimeout(promise, ms, name) {
  let timer;
  return Promise.race([promise, new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name} took longer than ${ms / 1000} s`)), ms);
  })]).finally(() => clearTimeout(timer));
}

async function runOne(browser, test) {
  const t = { browser, contexts: [], problems: [], foreign: [], allowForeign: false, cleanups: [] };
  let error = null, skipped = null;
  const start = Date.now();
  try {
    await withTimeout(test.run(t), TIMEOUT_MS, test.name);
    if (t.problems.length) error = 'errors in the page: ' + t.problems.slice(0, 5).join(' | ');
    else if (t.foreign.length) error = 'requests to another origin: ' + t.foreign.slice(0, 5).join(' ');
  } catch (e) {
    if (e instanceof Skip) skipped = e.message;
    else error = (e && e.message ? e.message : String(e)).split('\n').slice(0, 6).join(' ');
  }
  for (const fn of t.cleanups) await fn().catch(() => {});
  for (const c of t.contexts) await c.close().catch(() => {});
  return { name: test.name, ok: error === null, error, skipped, ms: Date.now() - start };
}

async function main() {
  const tests = await loadTests();
  const args = process.argv.slice(2);
  if (args[0] === '--list') {
    for (const t of tests) console.log(t.name);
    return;
  }
  const chosen = args.length ? tests.filter((t) => args.includes(t.name)) : tests;
  let browser = await launch();
  for (const test of chosen) {
    if (!browser.isConnected()) browser = await launch();
    const r = await runOne(browser, test);
    console.log('RESULT ' + JSON.stringify(r));
  }
  await browser.close();
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
