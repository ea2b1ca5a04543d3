// One webhook and its latest deliveries, newest first
// (GET /v1/webhooks/{id}/deliveries).
import { get, del, seg } from '../api.js';
import { h, pageTitle, pagedList, time, badge, fieldList, messageArea } from '../ui.js';
import { confirmButton } from '../actions.js';

const LIMIT = 100;

function statusBadge(status) {
  if (status === null || status === undefined) return badge('no answer', 'failed');
  return badge(String(status), status >= 200 && status < 300 ? 'succeeded' : 'failed');
}

/** @param {HTMLElement} root  @param {object} ctx (see console/README.md) */
export async function render(root, ctx) {
  ctx.title('Webhook');
  const id = ctx.params.id;
  const all = (await get('/v1/webhooks')).items || [];
  const w = all.find((x) => x.id === id);
  const back = h('p', null, h('a', { href: '#/webhooks' }, '← All webhooks'));
  if (!w) {
    const msg = messageArea();
    root.append(pageTitle('Webhook'), back, msg.el);
    msg.show('No such webhook: it may have been deleted.', 'error');
    return;
  }
  // the host only: a path may carry the receiver's secret, and titles go to history
  ctx.title('Webhook ' + new URL(w.url).host);

  const list = pagedList({
    caption: `The latest ${LIMIT} delivery attempts, newest first`,
    empty: 'Nothing delivered yet.',
    load: () => get('/v1/webhooks/' + seg(id) + '/deliveries', { limit: LIMIT }),
    columns: [
      { label: 'At', cell: (d) => time(d.at) },
      { label: 'Event', cell: (d) => h('span', { class: 'mono' }, d.event_type) },
      { label: 'Event id', cell: (d) => h('span', { class: 'mono' }, d.event_id) },
      { label: 'Attempt', cell: (d) => String(d.attempt) },
      { label: 'HTTP status', cell: (d) => statusBadge(d.status) },
      { label: 'Error', cell: (d) => d.error || '—' },
    ],
  });

  root.append(
    pageTitle('Webhook'),
    back,
    h('section', { class: 'card', 'aria-label': 'Endpoint' }, fieldList([
      ['Endpoint', h('span', { class: 'mono' }, w.url)],
      ['Events', (w.events || []).join(', ')],
      ['Registered', time(w.created_at)],
    ]), h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', onclick: () => list.reload() }, 'Refresh deliveries'),
      confirmButton({
        label: 'Delete this webhook',
        confirm: 'Delete it?',
        action: () => del('/v1/webhooks/' + seg(id)),
        done: () => ctx.navigate('/webhooks'),
      }))),
    h('section', { 'aria-labelledby': 'wh-deliveries' }, h('h2', { id: 'wh-deliveries' }, 'Deliveries'), list.el),
  );
}
