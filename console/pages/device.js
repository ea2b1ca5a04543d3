// One device: its fields, a change of status, its events as a timeline
// (GET /v1/devices/{mac}, /events; POST /v1/devices/{mac}/status).
import { get, post, seg } from '../api.js';
import { h, form, pageTitle, messageArea, fieldList, badge, macText, time, replace } from '../ui.js';

const SETTABLE = ['open', 'acquired', 'aborted']; // what a provider may set (contract section 4)

/** @param {HTMLElement} root  @param {object} ctx (see console/README.md) */
export async function render(root, ctx) {
  const mac = ctx.params.mac;
  ctx.title('Device ' + macText(mac));
  const msg = messageArea();
  const fields = h('section', { class: 'card', 'aria-labelledby': 'dev-fields' }, h('h2', { id: 'dev-fields' }, 'Fields'));
  const events = h('section', { class: 'card', 'aria-labelledby': 'dev-events' }, h('h2', { id: 'dev-events' }, 'Events'));
  root.append(pageTitle('Device ' + macText(mac), h('a', { href: '#/devices' }, 'All devices')), msg.el);

  let device;
  try {
    device = await get('/v1/devices/' + seg(mac));
  } catch (e) {
    msg.error(e.status === 404 ? new Error('No device ' + macText(mac) + ' here.') : e);
    return;
  }
  let profileName = null;
  if (device.profile_id) {
    profileName = await get('/v1/profiles/' + seg(device.profile_id)).then((p) => p.name, () => null);
  }

  function drawFields(d) {
    replace(fields, h('h2', { id: 'dev-fields' }, 'Fields'), fieldList([
      ['MAC', h('span', { class: 'mono' }, macText(d.mac))],
      ['Status', badge(d.status)],
      ['Status since', time(d.status_changed_at)],
      ['Profile', d.profile_id ? h('a', { href: '#/profiles/' + d.profile_id }, profileName || d.profile_id) : 'none'],
      ['Model', d.model || '—'],
      ['Serial', d.serial || '—'],
      ['Last contact', time(d.last_contact_at)],
      ['Contacts', String(d.contacts ?? 0)],
      ['Claimed', time(d.created_at)],
    ]));
  }

  async function drawEvents() {
    try {
      const page = await get('/v1/devices/' + seg(mac) + '/events');
      const items = page.items || [];
      replace(events, h('h2', { id: 'dev-events' }, 'Events'), h('p', { class: 'hint' }, 'Newest first.'), items.length
        ? h('ol', { class: 'timeline' }, items.slice().reverse().map((ev) => h('li', null,
          time(ev.at), ': ', ev.from ? [badge(ev.from), ' → '] : null, badge(ev.to),
          ev.cause ? h('span', { class: 'muted' }, ' (' + ev.cause + ')') : null)))
        : h('p', { class: 'muted' }, 'No events yet.'));
    } catch (e) {
      replace(events, h('h2', { id: 'dev-events' }, 'Events'), h('p', { role: 'alert', class: 'msg msg-error' }, e.message));
    }
  }

  const change = form({
    submit: 'Change status',
    fields: [{ name: 'status', label: 'New status', type: 'select', value: SETTABLE.includes(device.status) ? device.status : 'acquired', options: SETTABLE.map((s) => [s, s]) }],
    async onSubmit(v, f) {
      device = await post('/v1/devices/' + seg(mac) + '/status', { status: v.status });
      drawFields(device);
      await drawEvents();
      f.msg.show('The status is now ' + device.status + '.', 'ok');
    },
  });

  drawFields(device);
  root.append(h('div', { class: 'grid' }, fields,
    h('section', { class: 'card', 'aria-labelledby': 'dev-change' }, h('h2', { id: 'dev-change' }, 'Change status'),
      change.el)), events);
  await drawEvents();
}
