// Activation codes: issue (each code shown once, with a copy button),
// revoke, filter by state (POST, GET, DELETE /v1/activation-codes).
import { allProfiles } from './devices.js';
import { get, post, del, seg } from '../api.js';
import { h, form, pageTitle, pagedList, time, badge, macText } from '../ui.js';
import { LIFETIMES, DEFAULT_LIFETIME, secretPanel, slot, confirmButton, roleNote, filterSelect, plural } from '../actions.js';

const STATES = [['', 'Any state'], ['active', 'Active'], ['redeemed', 'Redeemed'], ['expired', 'Expired'], ['revoked', 'Revoked']];

/** @param {HTMLElement} root  @param {object} ctx (see console/README.md) */
export async function render(root, ctx) {
  ctx.title('Activation codes');
  const profiles = await allProfiles();
  const profileName = (id) => (profiles.find((p) => p.id === id) || {}).name || id;
  const shown = slot();

  const issue = form({
    submit: 'Issue',
    fields: [
      { name: 'profile_id', label: 'Profile', type: 'select', required: true,
        options: [['', 'Choose a profile'], ...profiles.map((p) => [p.id, p.name])],
        hint: profiles.length ? 'The phone that redeems a code gets this profile.' : 'No profile yet: create one first.' },
      { name: 'mac', label: 'MAC address (optional)', placeholder: '00:56:2b:04:36:15', autocomplete: 'off',
        hint: 'Bind each code to this one phone; empty: any phone.' },
      { name: 'count', label: 'How many codes', type: 'number', value: '1', inputmode: 'numeric', hint: '1 to 1000' },
      { name: 'expires_in', label: 'Valid for', type: 'select', options: LIFETIMES, value: DEFAULT_LIFETIME },
    ],
    async onSubmit(v) {
      const body = { profile_id: v.profile_id, expires_in: Number(v.expires_in) };
      if (v.mac.trim()) body.mac = v.mac.trim();
      const count = v.count.trim();
      if (count) body.count = /^\d+$/.test(count) ? Number(count) : count;
      const made = (await post('/v1/activation-codes', body)).items || [];
      shown.show(secretPanel({
        title: plural(made.length, 'code') + ' issued',
        label: 'Activation code',
        values: made.map((c) => c.code.replace(/(\d{4})(?=\d)/g, '$1-')),
        note: `Shown only now: the service keeps only a hash. Copy ${made.length === 1 ? 'it' : 'them'} before you leave this page.`,
      }));
      list.reload();
    },
  });

  const filter = filterSelect({ label: 'State', name: 'state', options: STATES, ctx, path: '/codes', onChange: () => list.reload() });
  const list = pagedList({
    empty: 'No codes in this state.',
    // oldest first, a page at a time, like every list of the API
    load: (cursor) => get('/v1/activation-codes', { state: filter.value(), cursor }),
    columns: [
      { label: 'Code', cell: (c) => h('span', { class: 'mono' }, '…' + c.last4) },
      { label: 'Profile', cell: (c) => profileName(c.profile_id) },
      { label: 'MAC', cell: (c) => (c.mac ? h('span', { class: 'mono' }, macText(c.mac)) : 'any phone') },
      { label: 'State', cell: (c) => badge(c.state) },
      { label: 'Expires', cell: (c) => time(c.expires_at) },
      { label: 'Redeemed', cell: (c) => (c.redeemed_at ? [time(c.redeemed_at), ' by ', h('span', { class: 'mono' }, macText(c.redeemed_by))] : '—') },
      { label: 'Action', cell: (c) => (c.state !== 'active' ? '—' : confirmButton({
        label: `Revoke …${c.last4}`,
        confirm: `Revoke code …${c.last4}?`,
        action: () => del('/v1/activation-codes/' + seg(c.id)),
        done: () => list.reload(),
      })) },
    ],
  });

  root.append(
    pageTitle('Activation codes'),
    h('p', { class: 'muted' }, 'A person types a code on a phone; the phone then gets the code\'s profile.'),
    h('section', { class: 'card', 'aria-labelledby': 'codes-issue' },
      h('h2', { id: 'codes-issue' }, 'Issue codes'), roleNote(ctx, 'operator', 'issue or revoke codes'), issue.el),
    shown.el,
    h('section', { 'aria-labelledby': 'codes-list' }, h('h2', { id: 'codes-list' }, 'Codes'), filter.el, list.el),
  );
}
