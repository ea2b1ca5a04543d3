// The overview: device counts by status and contacts per hour over the last
// 7 days, as SVG charts (GET /v1/stats).
import { get } from '../api.js';
import { h, pageTitle, messageArea, barChart, timeChart } from '../ui.js';

// the statuses in the order a device lives through them (contract section 2)
const ORDER = ['pending', 'custom_pending', 'open', 'acquired', 'aborted', 'unavailable'];
const LABEL = { custom_pending: 'custom pending' };

/** @param {HTMLElement} root  @param {object} ctx (see console/README.md) */
export async function render(root, ctx) {
  ctx.title('Overview');
  const msg = messageArea();
  root.append(pageTitle('Overview'), msg.el);
  let stats;
  try {
    stats = await get('/v1/stats');
  } catch (e) {
    msg.error(e);
    return;
  }
  const counts = stats.status_counts || {};
  const names = [...ORDER.filter((k) => k in counts), ...Object.keys(counts).filter((k) => !ORDER.includes(k))];
  const total = names.reduce((a, k) => a + counts[k], 0);
  const hours = (stats.contacts_per_hour || []).map((x) => ({ at: x.hour, value: x.contacts }));
  const contacts = hours.reduce((a, x) => a + x.value, 0);
  root.append(
    h('div', { class: 'grid' },
      h('section', { class: 'card', 'aria-labelledby': 'ov-dev' },
        h('h2', { id: 'ov-dev' }, `Devices: ${total}`),
        barChart({ title: 'Devices by status', data: names.map((k) => ({ label: LABEL[k] || k, value: counts[k], kind: k })) }),
        h('p', null, h('a', { href: '#/devices' }, 'See all devices'))),
      h('section', { class: 'card', 'aria-labelledby': 'ov-con' },
        h('h2', { id: 'ov-con' }, `Contacts in the last 7 days: ${contacts}`),
        timeChart({ title: 'Contacts per hour', data: hours, unit: 'contacts' }))));
}
