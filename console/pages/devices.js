// Devices: search by MAC or any part of it (q), filter by status, profile
// and model, page through the whole fleet by cursor (GET /v1/devices).
import { get } from '../api.js';
import { h, form, pageTitle, pagedList, badge, macText, time } from '../ui.js';

export const STATUSES = ['pending', 'custom_pending', 'open', 'acquired', 'aborted', 'unavailable'];
const FILTERS = ['q', 'status', 'profile_id', 'model'];
const PAGE_SIZE = 50;

/** Every profile of the provider as [{id, name}], for menus and names. */
export async function allProfiles() {
  const out = [];
  let cursor;
  do {
    const page = await get('/v1/profiles', { cursor, limit: 1000 });
    out.push(...(page.items || []));
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

/** @param {HTMLElement} root  @param {object} ctx (see console/README.md) */
export async function render(root, ctx) {
  ctx.title('Devices');
  let profiles = [];
  try {
    profiles = await allProfiles();
  } catch (e) {
    // the list below shows the API's error; the menu stays with "any"
  }
  const names = new Map(profiles.map((p) => [p.id, p.name]));
  const current = Object.fromEntries(FILTERS.map((k) => [k, ctx.query.get(k) || '']));

  const filters = form({
    cls: 'filters',
    submit: 'Search',
    fields: [
      { name: 'q', label: 'MAC or part of it', value: current.q, placeholder: 'e.g. 0004f2 or aa:bb', inputmode: 'search', hint: 'Hex digits; separators are ignored.' },
      { name: 'status', label: 'Status', type: 'select', value: current.status, options: [['', 'Any status'], ...STATUSES.map((s) => [s, s.replace('_', ' ')])] },
      { name: 'profile_id', label: 'Profile', type: 'select', value: current.profile_id, options: [['', 'Any profile'], ...profiles.map((p) => [p.id, p.name])] },
      { name: 'model', label: 'Model', value: current.model, placeholder: 'e.g. CP-8845' },
    ],
    async onSubmit(v) {
      Object.assign(current, v);
      const q = new URLSearchParams(Object.entries(current).filter(([, x]) => x));
      history.replaceState(null, '', '#/devices' + (q.toString() ? '?' + q : ''));
      await list.reload();
    },
  });

  const list = pagedList({
    caption: 'Devices, ordered by MAC',
    empty: 'No device matches.',
    columns: [
      { label: 'MAC', cell: (d) => h('a', { href: '#/devices/' + d.mac, class: 'mono' }, macText(d.mac)) },
      { label: 'Status', cell: (d) => badge(d.status) },
      { label: 'Profile', cell: (d) => (d.profile_id ? h('a', { href: '#/profiles/' + d.profile_id }, names.get(d.profile_id) || 'a profile') : h('span', { class: 'muted' }, 'none')) },
      { label: 'Model', cell: (d) => d.model || '—' },
      { label: 'Last contact', cell: (d) => time(d.last_contact_at) },
      { label: 'Contacts', cell: (d) => String(d.contacts ?? 0) },
    ],
    async load(cursor) {
      try {
        return await get('/v1/devices', { ...current, cursor, limit: PAGE_SIZE });
      } catch (e) {
        if (e.errors && e.errors.length) filters.setErrors(e);
        throw e;
      }
    },
  });
  root.append(pageTitle('Devices'), h('section', { class: 'card', 'aria-label': 'Search and filters' }, filters.el), list.el);
}
