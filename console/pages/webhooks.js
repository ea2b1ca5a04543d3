// Webhooks: register an endpoint (its signing secret shown once), list and
// delete them; each one's deliveries are on its own page (webhook.js).
import { get, post, del, seg } from '../api.js';
import { h, form, pageTitle, pagedList, time } from '../ui.js';
import { secretPanel, slot, confirmButton, roleNote, checkboxGroup } from '../actions.js';

export const EVENTS = [
  ['device.status_changed', 'A device\'s status changed'],
  ['device.claimed', 'A device was claimed'],
  ['device.released', 'A device was released'],
  ['code.redeemed', 'An activation code was redeemed'],
  ['import_job.finished', 'An import job finished'],
  ['transfer.accepted', 'A transfer was accepted'],
];

/** @param {HTMLElement} root  @param {object} ctx (see console/README.md) */
export function render(root, ctx) {
  ctx.title('Webhooks');
  const shown = slot();
  const events = checkboxGroup({
    name: 'events', legend: 'Events to send', options: EVENTS.map(([v, t]) => [v, `${t} (${v})`]),
    hint: 'At least one.',
  });

  const add = form({
    submit: 'Register',
    extra: events.el,
    fields: [
      { name: 'url', label: 'Endpoint URL', type: 'url', required: true, placeholder: 'https://hooks.example.net/ztp',
        hint: 'https, reachable from the internet; each event is POSTed here, signed with the secret.' },
    ],
    async onSubmit(v) {
      events.clear();
      let w;
      try {
        w = await post('/v1/webhooks', { url: v.url.trim(), events: events.values() });
      } catch (e) {
        events.take(e);
        throw e;
      }
      shown.show(secretPanel({
        title: 'Webhook registered',
        label: 'Signing secret',
        values: [w.secret],
        note: 'Shown only now: your receiver checks each delivery\'s webhook-signature with this secret. Copy it before you leave this page.',
      }));
      add.el.reset();
      list.reload();
    },
  });

  const list = pagedList({
    empty: 'No webhooks yet.',
    load: () => get('/v1/webhooks'),
    columns: [
      { label: 'Endpoint', cell: (w) => h('a', { href: '#/webhooks/' + seg(w.id), class: 'mono' }, w.url) },
      { label: 'Events', cell: (w) => h('ul', { class: 'plain' }, (w.events || []).map((e) => h('li', { class: 'mono' }, e))) },
      { label: 'Registered', cell: (w) => time(w.created_at) },
      { label: 'Action', cell: (w) => [
        h('a', { href: '#/webhooks/' + seg(w.id), class: 'button secondary' }, 'Deliveries'), ' ',
        confirmButton({
          label: 'Delete',
          confirm: `Delete the webhook to ${w.url}?`,
          action: () => del('/v1/webhooks/' + seg(w.id)),
          done: () => list.reload(),
        }),
      ] },
    ],
  });

  root.append(
    pageTitle('Webhooks'),
    h('p', { class: 'muted' }, 'Your systems learn of events as they happen: each is POSTed to your endpoints, signed, and retried for 24 hours until answered with 2xx.'),
    h('section', { class: 'card', 'aria-labelledby': 'wh-add' },
      h('h2', { id: 'wh-add' }, 'Register an endpoint'), roleNote(ctx, 'admin', 'register or delete webhooks'), add.el),
    shown.el,
    h('section', { 'aria-labelledby': 'wh-list' }, h('h2', { id: 'wh-list' }, 'Endpoints'), list.el),
  );
}
