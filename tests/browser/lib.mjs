// Shared machinery of the console's browser tests: Debian's chromium driven
// by playwright-core (never a downloaded browser), contexts that record
// every request and every error, sign-in, the checks every page must pass,
// axe-core, screenshots. See console/README.md ("Browser tests").
import { chromium } from 'playwright-core';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(import.meta.url);
export const AXE_PATH = require.resolve('axe-core/axe.min.js');

/** What test_console.py set up: {base, origin, password, people: {admin,
 * operator, viewer: email}, api_key, profile_id, macs, screenshots, ...}. */
export const config = JSON.parse(process.env.ZTP_BROWSER_CONFIG || '{}');

export const WIDTH_PHONE = 390;
export const WIDTH_DESKTOP = 1280;

export async function launch() {
  return chromium.launch({
    executablePath: process.env.ZTP_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
}

/** Thrown by a test that cannot run here (reported as skipped, with why). */
export class Skip extends Error {}

/** A failed expectation with a readable message. */
export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/**
 * A fresh browser context (own cookies) whose pages are watched: t.problems
 * collects page errors, console errors and failed console files, t.foreign
 * every request to another origin than the console's. Options go to
 * browser.newContext (viewport, bypassCSP...).
 */
export async function newContext(t, opts = {}) {
  const ctx = await t.browser.newContext({ viewport: { width: WIDTH_DESKTOP, height: 900 }, ...opts });
  t.contexts.push(ctx);
  ctx.on('request', (req) => {
    const u = req.url();
    if (!u.startsWith(config.origin + '/') && !u.startsWith('data:') && !t.allowForeign) t.foreign.push(u);
  });
  ctx.on('response', (res) => {
    if (res.url().startsWith(config.origin + '/console') && res.status() >= 400) t.problems.push(`console file ${res.url()} answered ${res.status()}`);
  });
  ctx.on('page', (page) => watch(t, page));
  return ctx;
}

function watch(t, page) {
  page.on('pageerror', (e) => {
    if (page.url().startsWith(config.origin + '/')) t.problems.push('page error: ' + e.message);
  });
  page.on('console', (m) => {
    // a page of another site (the cross-site test's) may fail as it likes
    if (m.type() !== 'error' || !page.url().startsWith(config.origin + '/')) return;
    // the API's 4xx answers (401 signed out, 403 for a viewer, 422) are part
    // of the console's normal work; chromium logs each one
    if (/^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) return;
    t.problems.push('console error: ' + m.text());
  });
}

/** A new watched page in a new context. */
export async function newPage(t, opts) {
  const ctx = await newContext(t, opts);
  return ctx.newPage();
}

/** Opens the console at hash ("#/devices") and waits for its page to be drawn. */
export async function open(page, hash = '') {
  // from another console page, goto only changes the hash (no new document)
  await leaving(page);
  // the same address again would not even change the hash: load it anew
  if (page.url() === config.base + hash) await page.reload();
  else await page.goto(config.base + hash);
  await drawn(page);
}

/**
 * Goes to another console page by a click on `how` (a locator) or by doing
 * `how` (a function: a key pressed, say), and waits for that page to be
 * drawn: right after, the page left is still shown, settled, for as long as
 * the router takes to load the next (settle alone would return at once).
 */
export async function follow(page, how) {
  await leaving(page);
  await (typeof how === 'function' ? how() : how.click());
  await drawn(page);
}

/** Marks the page drawn now (its h1), so that drawn() waits for the next one. */
async function leaving(page) {
  await page.evaluate(() => { const h1 = document.querySelector('main h1'); if (h1) h1.dataset.left = '1'; })
    .catch(() => {}); // no document yet
}

/** Waits for a page drawn after leaving() (an unmarked h1), then for it to settle. */
async function drawn(page) {
  await page.waitForSelector('main h1:not([data-left])', { timeout: 30000 });
  await settle(page);
}

/** Waits until the console drew a page (its h1) and no list is loading. */
export async function settle(page) {
  await page.waitForSelector('main h1', { timeout: 20000 });
  await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'), null, { timeout: 20000 });
}

/** Signs in through the form as people[role]; ends on the page after. */
export async function signIn(page, role = 'admin', hash = '#/signin') {
  await page.goto(config.base + hash);
  await page.waitForSelector('input[name="email"]');
  await page.getByLabel('Email').fill(config.people[role]);
  await page.getByLabel('Password').fill(config.password);
  // the sign-in page's heading stays a moment after #signout appears
  await leaving(page);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForSelector('#signout', { timeout: 30000 });
  await drawn(page);
}

// One session per role for the whole run (signing in costs an Argon2id
// hash): its cookie, given to each new context. A test that ends a session
// signs in through the form itself (signIn) instead.
const sessions = {};

/** A page signed in as role, in a fresh context, on the overview. */
export async function signedInPage(t, role = 'admin', opts = {}) {
  if (!sessions[role]) {
    const page = await newPage(t);
    await signIn(page, role);
    sessions[role] = await page.context().storageState();
  }
  const page = await newPage(t, { ...opts, storageState: sessions[role] });
  await open(page, '#/overview');
  await page.waitForSelector('#signout');
  return page;
}

/** Calls /v1 from node with the provider's API key, or with `key` (for set-up and checks). */
export async function api(method, p, body, key = config.api_key) {
  const res = await fetch(config.origin + p, {
    method,
    headers: { Authorization: 'Bearer ' + key, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

/** The page fits the viewport's width: nothing scrolls sideways. */
export async function assertNoSideScroll(page) {
  const r = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth, view: window.innerWidth,
    wide: [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
      .slice(0, 3).map((e) => e.tagName + (e.className ? '.' + e.className : '')),
  }));
  assert(r.scroll <= r.view, `the page is ${r.scroll}px wide in a ${r.view}px viewport (${r.wide.join(', ')})`);
}

/** Writes a full-page screenshot as <screenshots>/<name>.png. */
export async function screenshot(page, name) {
  if (!config.screenshots) return;
  fs.mkdirSync(config.screenshots, { recursive: true });
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.screenshot({ path: path.join(config.screenshots, name + '.png'), fullPage: true });
}

/**
 * Runs axe-core on the page as it is (the page must come from a context
 * made with bypassCSP: true, since axe is injected as a script). Returns the
 * serious and critical violations as readable lines.
 */
export async function axeViolations(page) {
  if (!(await page.evaluate(() => !!window.axe))) await page.addScriptTag({ path: AXE_PATH });
  const result = await page.evaluate(async () => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
  }));
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')})`);
}

/**
 * Presses Tab from the top of the page until the element matching selector
 * has focus (at most `limit` presses): the control is reachable by keyboard.
 */
export async function assertTabReaches(page, selector, limit = 80) {
  // focusing the body moves the starting point of Tab to the page's top
  await page.evaluate(() => {
    const b = document.body;
    b.setAttribute('tabindex', '-1');
    b.focus();
    b.removeAttribute('tabindex');
    window.scrollTo(0, 0);
  });
  const path = [];
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press('Tab');
    const [hit, what] = await page.evaluate((sel) => {
      const a = document.activeElement;
      return [!!a && a.matches(sel), a ? a.tagName.toLowerCase() + (a.name ? `[${a.name}]` : '') + (a.id ? '#' + a.id : '') : '-'];
    }, selector);
    if (hit) return;
    path.push(what);
  }
  throw new Error(`Tab did not reach ${selector} within ${limit} presses: ${path.slice(0, 12).join(' ')}`);
}

/** Polls fn until it returns a true value (deadline sized for a loaded machine). */
export async function until(fn, what, timeout = 20000) {
  const deadline = Date.now() + timeout;
  for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, delay)); // a poll interval, not a wait for an outcome
  }
}

/** A fresh random MAC (12 hex digits) with a prefix no vendor uses. */
export function randomMac() {
  return '02' + Array.from({ length: 10 }, () => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join('');
}
