// Transfers: hand devices to another provider (the code shown once), list
// and cancel them, and accept one with a code (/v1/transfers).
import { allProfiles } from './devices.js';
import { get, post, del, seg } from '../api.js';
import { h, replace, form, pageTitle, pagedList, time, badge, macText, messageArea } from '../ui.js';
import { LIFETIMES, DEFAULT_LIFETIME, secretPanel, slot, confirmButton, roleNote, filterSelect, plural } from '../actions.js';

const STATES = [['', 'Any state'], ['open', 'Open'], ['accepted', 'Accepted'], ['expired', 'Expired'], ['cancelled', 'Cancelled']];
const MACS_SHOWN = 20;

/** The MACs typed in a text area: one per line, or separated by commas or spaces. */
function macsOf(text) {
  return text.split(/[\s,;]+/).filter(Boolean);
}

/**
 * The API names a MAC's error "macs[i]"; the form has one text area: put
 * each at it, saying which entry it was.
 */
function atMacs(err, typed) {
  err.errors = (err.errors || []).map((e) => {
    const m = /^macs\[(\d+)\]$/.exec(e.field || '');
    if (!m) return e;
    const i = Number(m[1]);
    const detail = e.detail.replace(/macs\[(\d+)\]/g, (_, j) => `entry ${Number(j) + 1}`);
    return { field: 'macs', detail: `entry ${i + 1} (${typed[i] ?? '?'}): ${detail}` };
  });
  return err;
}

/**
 * The list names how many MACs a transfer carries (up to 100,000); the first
 * MACS_SHOWN are fetched from the transfer itself when the disclosure opens.
 */
function macsCell(t) {
  const list = h('ul', { class: 'macs' });
  let loaded = false;
  async function load(ev) {
    if (loaded || !ev.currentTarget.open) return;
    loaded = true;
    try {
      const d = await get('/v1/transfers/' + seg(t.id), { limit: MACS_SHOWN });
      const more = t.mac_count - d.macs.length;
      replace(list, d.macs.map((m) => h('li', { class: 'mono' }, macText(m))), more > 0 ? h('li', null, `and ${more} more`) : null);
    } catch (e) {
      loaded = false;
      replace(list, h('li', null, 'Could not load the MACs; close and open again to retry.'));
    }
  }
  return h('details', { ontoggle: load }, h('summary', null, plural(t.mac_count, 'device')), list);
}

function outcome(t) {
  if (t.accepted_at) return [time(t.accepted_at), `, ${plural(t.transferred ?? 0, 'device')} moved`];
  if (t.cancelled_at) return time(t.cancelled_at);
  return '—';
}

/** @param {HTMLElement} root  @param {object} ctx (see console/README.md) */
export async function render(root, ctx) {
  ctx.title('Transfers');
  const profiles = await allProfiles();
  const shown = slot();

  const make = form({
    submit: 'Make transfer',
    fields: [
      { name: 'macs', label: 'MAC addresses', type: 'textarea', required: true, rows: 5,
        placeholder: '00:56:2b:04:36:15\n00562b043616',
        hint: 'One per line (or separated by commas or spaces), 1 to 100,000; every one must be your device.' },
      { name: 'expires_in', label: 'Valid for', type: 'select', options: LIFETIMES, value: DEFAULT_LIFETIME },
    ],
    async onSubmit(v) {
      const macs = macsOf(v.macs);
      let t;
      try {
        t = await post('/v1/transfers', { macs, expires_in: Number(v.expires_in) });
      } catch (e) {
        throw atMacs(e, macs);
      }
      shown.show(secretPanel({
        title: `Transfer of ${plural(t.macs.length, 'device')} made`,
        label: 'Transfer code',
        values: [t.code.replace(/(\d{4})(?=\d)/g, '$1-')],
        note: 'Shown only now: give this code to the receiving provider, who accepts it on their Transfers page. '
          + `It is valid until ${new Date(t.expires_at).toLocaleString()}.`,
      }));
      make.el.reset();
      list.reload();
    },
  });

  const acceptMsg = messageArea();
  const accept = form({
    submit: 'Accept transfer',
    msg: acceptMsg,
    fields: [
      { name: 'code', label: 'Transfer code', required: true, inputmode: 'numeric', autocomplete: 'off',
        placeholder: '1234-5678-9012-3456', hint: 'The 16 digits the sending provider gave you.' },
      { name: 'profile_id', label: 'Profile for these devices', type: 'select',
        options: [['', 'None for now'], ...profiles.map((p) => [p.id, p.name])] },
    ],
    async onSubmit(v) {
      const body = { code: v.code.trim() };
      if (v.profile_id) body.profile_id = v.profile_id;
      const r = await post('/v1/transfers/accept', body);
      accept.el.reset();
      acceptMsg.show(`${plural(r.transferred, 'device')} moved to you.`, 'ok');
    },
  });

  const filter = filterSelect({ label: 'State', name: 'state', options: STATES, ctx, path: '/transfers', onChange: () => list.reload() });
  const list = pagedList({
    empty: 'No transfers in this state.',
    load: (cursor) => get('/v1/transfers', { state: filter.value(), cursor }),
    columns: [
      { label: 'Code', cell: (t) => h('span', { class: 'mono' }, '…' + t.last4) },
      { label: 'Devices', cell: macsCell },
      { label: 'State', cell: (t) => badge(t.state) },
      { label: 'Made', cell: (t) => time(t.created_at) },
      { label: 'Expires', cell: (t) => time(t.expires_at) },
      { label: 'Accepted or cancelled', cell: outcome },
      { label: 'Action', cell: (t) => (t.state !== 'open' ? '—' : confirmButton({
        label: `Cancel …${t.last4}`,
        confirm: `Cancel transfer …${t.last4}?`,
        yes: 'Yes, cancel it',
        no: 'Keep it',
        action: () => del('/v1/transfers/' + seg(t.id)),
        done: () => list.reload(),
      })) },
    ],
  });

  root.append(...[
    pageTitle('Transfers'),
    h('p', { class: 'muted' }, 'Hand devices over to another provider (phones sold on), or take over devices handed to you.'),
    roleNote(ctx, 'operator', 'make, cancel or accept transfers'),
    h('div', { class: 'grid' },
      h('section', { class: 'card', 'aria-labelledby': 'tr-make' }, h('h2', { id: 'tr-make' }, 'Hand devices over'), make.el),
      h('section', { class: 'card', 'aria-labelledby': 'tr-accept' }, h('h2', { id: 'tr-accept' }, 'Accept a transfer'), accept.el)),
    shown.el,
    h('section', { 'aria-labelledby': 'tr-list' }, h('h2', { id: 'tr-list' }, 'Transfers you made'), filter.el, list.el),
  ].filter(Boolean));
}
