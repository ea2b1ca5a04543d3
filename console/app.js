// The console's shell: the route table, the navigation, the signed-in
// person, and loading one page module per route (contract section 8).
import { get, del, onUnauthorized } from './api.js';
import { h, replace, flash } from './ui.js';

// Every page of the console. path: after "#"; ":name" matches one segment
// (given to the page as ctx.params.name). nav: its label in the menu (none:
// reached from another page). page: console/pages/<page>.js.
export const ROUTES = [
  { path: '/overview', page: 'overview', nav: 'Overview' },
  { path: '/devices', page: 'devices', nav: 'Devices' },
  { path: '/devices/:mac', page: 'device' },
  { path: '/profiles', page: 'profiles', nav: 'Profiles' },
  { path: '/profiles/new', page: 'profile' },
  { path: '/profiles/:id', page: 'profile' },
  { path: '/imports', page: 'imports', nav: 'Imports' },
  { path: '/codes', page: 'codes', nav: 'Activation codes' },
  { path: '/transfers', page: 'transfers', nav: 'Transfers' },
  { path: '/webhooks', page: 'webhooks', nav: 'Webhooks' },
  { path: '/webhooks/:id', page: 'webhook' },
  { path: '/keys', page: 'keys', nav: 'API keys' },
  { path: '/people', page: 'people', nav: 'People' },
  { path: '/audit', page: 'audit', nav: 'Audit trail' },
  { path: '/signin', page: 'signin', public: true },
  { path: '/invite', page: 'invite', public: true },
];
const HOME = '/overview';
const RANK = { viewer: 1, operator: 2, admin: 3 };

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const menuToggle = document.getElementById('menu-toggle');

let me = null;          // GET /v1/sessions/current, or null when signed out
let leave = null;       // the current page's clean-up, if it returned one
let renderSeq = 0;      // a newer navigation wins over a slower older one
let inviteToken = null; // from /console/invite#TOKEN, kept out of the address bar

/** Splits "#/devices/abc?q=1" into {path: '/devices/abc', query: URLSearchParams}. */
function parseHash(hash) {
  const raw = hash.replace(/^#/, '');
  const i = raw.indexOf('?');
  return { path: i < 0 ? raw : raw.slice(0, i), query: new URLSearchParams(i < 0 ? '' : raw.slice(i + 1)) };
}

function match(path) {
  const parts = path.split('/').filter(Boolean);
  for (const r of ROUTES) {
    const want = r.path.split('/').filter(Boolean);
    if (want.length !== parts.length) continue;
    const params = {};
    let ok = true;
    want.forEach((w, i) => {
      if (!w.startsWith(':')) ok = ok && w === parts[i];
      else {
        try {
          params[w.slice(1)] = decodeURIComponent(parts[i]);
        } catch {
          ok = false; // a malformed escape (#/devices/%E0%A4%A) names no page
        }
      }
    });
    if (ok) return { route: r, params };
  }
  return null;
}

/** Goes to a console address ("#/devices?status=open" or "/devices"). */
export function navigate(to, { replace: rep = false } = {}) {
  const hash = to.startsWith('#') ? to : '#' + to;
  if (rep) {
    history.replaceState(null, '', hash);
    render();
  } else if (location.hash === hash) {
    render();
  } else {
    location.hash = hash;
  }
}

function can(role) {
  return !!me && (RANK[me.role] || 0) >= RANK[role];
}

function drawShell() {
  const signedIn = !!me;
  nav.hidden = !signedIn;
  who.hidden = !signedIn;
  menuToggle.hidden = !signedIn;
  if (!signedIn) return;
  const { path } = parseHash(location.hash);
  replace(nav, h('ul', null, ROUTES.filter((r) => r.nav).map((r) => {
    const current = path === r.path || path.startsWith(r.path + '/');
    return h('li', null, h('a', { href: '#' + r.path, 'aria-current': current ? 'page' : null }, r.nav));
  })));
  replace(who,
    h('span', { class: 'who-name' }, me.email || 'API key', ' ', h('span', { class: 'badge badge-role' }, me.role)),
    h('button', { type: 'button', class: 'secondary', id: 'signout', onclick: signOut }, 'Sign out'));
}

async function signOut() {
  try {
    await del('/v1/sessions/current');
  } catch (e) {
    // the session may already be gone; either way it is over here
  }
  me = null;
  flash('You are signed out.', 'info');
  navigate('/signin');
}

/** Called by the sign-in page once a session exists. */
async function signedIn(next) {
  me = await get('/v1/sessions/current');
  navigate(next && next !== '/signin' ? next : HOME, { replace: true });
}

async function render() {
  const seq = ++renderSeq;
  if (leave) {
    try { leave(); } catch (e) { /* a page's clean-up must not stop navigation */ }
    leave = null;
  }
  let { path, query } = parseHash(location.hash);
  if (!path || path === '/') path = me ? HOME : '/signin';
  const m = match(path);
  if (!m) {
    drawShell();
    replace(main, h('h1', { tabindex: '-1' }, 'Not found'), h('p', null, 'No page here. ', h('a', { href: '#' + HOME }, 'Go to the overview')));
    main.querySelector('h1').focus();
    return;
  }
  if (!m.route.public && !me) {
    navigate('/signin?next=' + encodeURIComponent(path + (query.toString() ? '?' + query : '')), { replace: true });
    return;
  }
  drawShell();
  nav.classList.remove('open');
  menuToggle.setAttribute('aria-expanded', 'false');
  const mod = await import(`./pages/${m.route.page}.js`);
  if (seq !== renderSeq) return;
  main.replaceChildren();
  const ctx = {
    params: m.params, query, me, can, navigate,
    signedIn,
    // the invitation's token, handed over once: a used one is never offered again
    takeInviteToken: () => {
      const t = inviteToken;
      inviteToken = null;
      return t;
    },
    title: (t) => { document.title = t + ' · openztp'; },
  };
  ctx.title(m.route.nav || m.route.page);
  main.setAttribute('aria-busy', 'true'); // until the page has drawn what it fetched
  try {
    leave = (await mod.render(main, ctx)) || null;
  } catch (e) {
    replace(main, h('h1', { tabindex: '-1' }, 'Something went wrong'), h('p', { role: 'alert' }, e.message || String(e)));
  }
  if (seq !== renderSeq) return;
  main.setAttribute('aria-busy', 'false');
  const h1 = main.querySelector('h1');
  if (h1 && document.activeElement === document.body) h1.focus();
}

function clearFlashSoon() {
  // a flash message lasts for the navigation after it was shown
  const area = document.getElementById('flash');
  if (area.dataset.keep) delete area.dataset.keep;
  else area.replaceChildren();
}

async function start() {
  if (/\/invite\/?$/.test(location.pathname)) {
    // /console/invite#TOKEN: take the token, then leave the address bar clean
    inviteToken = location.hash.replace(/^#/, '');
    history.replaceState(null, '', location.pathname.replace(/invite\/?$/, '') + '#/invite');
  }
  onUnauthorized(() => {
    const { path } = parseHash(location.hash);
    if (me === null || path === '/signin') return;
    me = null;
    flash('Your session has ended: sign in again.', 'info');
    navigate('/signin?next=' + encodeURIComponent(path), { replace: true });
  });
  menuToggle.addEventListener('click', () => {
    const open = nav.classList.toggle('open');
    menuToggle.setAttribute('aria-expanded', open ? 'true' : 'false');
  });
  nav.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Escape' || !nav.classList.contains('open')) return;
    nav.classList.remove('open');
    menuToggle.setAttribute('aria-expanded', 'false');
    menuToggle.focus();
  });
  document.querySelector('.skip').addEventListener('click', (ev) => {
    ev.preventDefault();
    main.focus();
  });
  window.addEventListener('hashchange', () => {
    if (!location.hash.startsWith('#/') && location.hash !== '') return;
    clearFlashSoon();
    render();
  });
  try {
    me = await get('/v1/sessions/current');
  } catch (e) {
    me = null;
  }
  render();
}

start();
