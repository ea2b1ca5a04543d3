// Profiles: the list, and the way to a new one (GET /v1/profiles).
import { get } from '../api.js';
import { h, pageTitle, pagedList, time } from '../ui.js';

/** @param {HTMLElement} root  @param {object} ctx (see console/README.md) */
export function render(root, ctx) {
  ctx.title('Profiles');
  const list = pagedList({
    caption: 'Profiles',
    empty: 'No profile yet: create one to point phones somewhere.',
    columns: [
      { label: 'Name', cell: (p) => h('a', { href: '#/profiles/' + p.id }, p.name) },
      { label: 'Profile rule', cell: (p) => h('code', null, p.profile_rule) },
      { label: 'Short code', cell: (p) => p.short_code || '—' },
      { label: 'Updated', cell: (p) => time(p.updated_at) },
    ],
    load: (cursor) => get('/v1/profiles', { cursor }),
  });
  root.append(pageTitle('Profiles', h('a', { class: 'button', href: '#/profiles/new' }, 'New profile')), list.el);
}
