// The audit trail: every change made through the API, oldest first, a page
// at a time by the API's cursor (GET /v1/audit-events).
import { get } from '../api.js';
import { h, pageTitle, pagedList, time } from '../ui.js';

const LIMIT = 50;

function detailText(d) {
  if (d === null || d === undefined) return '—';
  const pairs = typeof d === 'object' && !Array.isArray(d) ? Object.entries(d) : null;
  if (!pairs) return JSON.stringify(d);
  return h('ul', { class: 'plain' }, pairs.map(([k, v]) =>
    h('li', null, h('span', { class: 'muted' }, k + ': '), typeof v === 'string' ? v : JSON.stringify(v))));
}

/** @param {HTMLElement} root  @param {object} ctx (see console/README.md) */
export async function render(root, ctx) {
  ctx.title('Audit trail');
  // names for the ids the trail carries; a trail is still readable without them
  const [keys, people] = await Promise.all([
    get('/v1/api-keys').then((r) => r.items || [], () => []),
    get('/v1/users').then((r) => r.items || [], () => []),
  ]);
  const keyName = new Map(keys.map((k) => [k.id, k.name]));
  const email = new Map(people.map((u) => [u.id, u.email]));
  const who = (e) => {
    if (e.user_id) return email.get(e.user_id) || 'a person since removed';
    if (e.key_id) return ['API key ', keyName.has(e.key_id) ? `"${keyName.get(e.key_id)}"` : h('span', { class: 'mono' }, e.key_id)];
    return h('span', { class: 'muted' }, 'no one named'); // e.g. the other side of a transfer
  };

  const list = pagedList({
    caption: `Changes, oldest first, ${LIMIT} a page`,
    empty: 'No changes recorded yet.',
    load: (cursor) => get('/v1/audit-events', { cursor, limit: LIMIT }),
    columns: [
      { label: 'At', cell: (e) => time(e.at) },
      { label: 'By', cell: who },
      { label: 'Action', cell: (e) => h('span', { class: 'mono' }, e.action) },
      { label: 'Target', cell: (e) => (e.target ? h('span', { class: 'mono' }, e.target) : '—') },
      { label: 'Detail', cell: (e) => detailText(e.detail) },
    ],
  });

  root.append(
    pageTitle('Audit trail'),
    h('p', { class: 'muted' }, 'Every change made through the API or this console, by whom and when.'),
    list.el,
  );
}
