// API keys: create one (its secret shown once), list, revoke (/v1/api-keys).
import { get, post, del, seg } from '../api.js';
import { h, form, pageTitle, pagedList, time, badge } from '../ui.js';
import { secretPanel, slot, confirmButton, roleNote } from '../actions.js';

/** @param {HTMLElement} root  @param {object} ctx (see console/README.md) */
export function render(root, ctx) {
  ctx.title('API keys');
  const shown = slot();

  const create = form({
    submit: 'Create key',
    fields: [
      { name: 'name', label: 'Name', required: true, placeholder: 'billing system',
        hint: 'Who or what uses it, so that you know which to revoke.' },
    ],
    async onSubmit(v) {
      const k = await post('/v1/api-keys', { name: v.name });
      shown.show(secretPanel({
        title: `API key "${k.name}" created`,
        label: 'API key',
        values: [k.api_key],
        note: 'Shown only now: the service keeps only a hash. Send it as Authorization: Bearer <key>. Copy it before you leave this page.',
      }));
      create.el.reset();
      list.reload();
    },
  });

  const list = pagedList({
    empty: 'No API keys.',
    load: () => get('/v1/api-keys'),
    columns: [
      { label: 'Name', cell: (k) => k.name },
      { label: 'Id', cell: (k) => h('span', { class: 'mono' }, k.id) },
      { label: 'Created', cell: (k) => time(k.created_at) },
      { label: 'Last used', cell: (k) => time(k.last_used_at) },
      { label: 'State', cell: (k) => (k.revoked_at ? [badge('revoked'), ' ', time(k.revoked_at)] : badge('active')) },
      { label: 'Action', cell: (k) => (k.revoked_at ? '—' : confirmButton({
        label: `Revoke "${k.name}"`,
        confirm: `Revoke "${k.name}"? It gets 401 from then on.`,
        action: () => del('/v1/api-keys/' + seg(k.id)),
        done: () => list.reload(),
      })) },
    ],
  });

  root.append(
    pageTitle('API keys'),
    h('p', { class: 'muted' }, 'Programs call the /v1 API with a key; a key acts as an admin.'),
    h('section', { class: 'card', 'aria-labelledby': 'keys-new' },
      h('h2', { id: 'keys-new' }, 'Create a key'), roleNote(ctx, 'admin', 'create or revoke keys'), create.el),
    shown.el,
    h('section', { 'aria-labelledby': 'keys-list' }, h('h2', { id: 'keys-list' }, 'Keys'), list.el),
  );
}
