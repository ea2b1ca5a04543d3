// People: invite someone with a role (the invitation link shown once), list,
// remove (/v1/users).
import { get, post, del, seg } from '../api.js';
import { h, form, pageTitle, pagedList, time, badge } from '../ui.js';
import { secretPanel, slot, confirmButton, roleNote } from '../actions.js';

const ROLES = [
  ['viewer', 'Viewer: reads everything'],
  ['operator', 'Operator: also devices, codes, imports, transfers'],
  ['admin', 'Admin: also profiles, API keys, people, webhooks'],
];

/** @param {HTMLElement} root  @param {object} ctx (see console/README.md) */
export function render(root, ctx) {
  ctx.title('People');
  const shown = slot();
  const myId = ctx.me && ctx.me.user_id;

  const invite = form({
    submit: 'Invite',
    fields: [
      { name: 'email', label: 'Email', type: 'email', required: true, autocomplete: 'off' },
      { name: 'role', label: 'Role', type: 'select', options: ROLES, value: 'viewer' },
    ],
    async onSubmit(v) {
      const u = await post('/v1/users', { email: v.email.trim(), role: v.role });
      shown.show(secretPanel({
        title: `${u.email} invited as ${u.role}`,
        label: 'Invitation link',
        values: [u.invite_url],
        note: 'Shown only now: send this link to the person. It works once, for 7 days, and lets them choose a password.',
      }));
      invite.el.reset();
      list.reload();
    },
  });

  const list = pagedList({
    empty: 'Nobody yet.',
    load: () => get('/v1/users'),
    columns: [
      { label: 'Email', cell: (u) => [u.email, u.id === myId ? h('span', { class: 'muted' }, ' (you)') : null] },
      { label: 'Role', cell: (u) => u.role },
      { label: 'State', cell: (u) => (u.active ? badge('active') : badge('invited', 'open')) },
      { label: 'Invited', cell: (u) => time(u.created_at) },
      { label: 'Action', cell: (u) => confirmButton({
        label: `Remove ${u.email}`,
        confirm: u.id === myId ? 'Remove yourself? You are signed out at once.' : `Remove ${u.email}? Their sessions end.`,
        action: () => del('/v1/users/' + seg(u.id)),
        done: () => list.reload(),
      }) },
    ],
  });

  root.append(
    pageTitle('People'),
    h('section', { class: 'card', 'aria-labelledby': 'people-new' },
      h('h2', { id: 'people-new' }, 'Invite someone'), roleNote(ctx, 'admin', 'invite or remove people'), invite.el),
    shown.el,
    h('section', { 'aria-labelledby': 'people-list' }, h('h2', { id: 'people-list' }, 'People'), list.el),
  );
}
