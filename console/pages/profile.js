// One profile: create (#/profiles/new) or edit, with the API's validation
// shown at each field, and a preview of the answer a given phone would get.
import { get, post, patch, del, seg } from '../api.js';
import { h, form, pageTitle, messageArea, flash } from '../ui.js';

// the vendors of the /boot table that may have their own URL (cisco excepted)
const VENDORS = ['yealink', 'poly', 'snom', 'grandstream', 'fanvil', 'gigaset'];

/** "Name=value" lines → object; throws a field error naming the bad line. */
function parseLines(text, field, what) {
  const out = {};
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const eq = line.indexOf('=');
    if (eq <= 0) {
      const e = new Error('Some fields need fixing.');
      e.errors = [{ field, detail: `line ${i + 1}: write ${what}` }];
      throw e;
    }
    out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  });
  return out;
}

const toLines = (obj) => Object.entries(obj || {}).map(([k, v]) => `${k}=${v}`).join('\n');

/** The body for POST (create: empty optional fields left out) or PATCH (all given; empty → null). */
function body(v, creating) {
  const b = {
    name: v.name.trim(),
    profile_rule: v.profile_rule.trim(),
    params: parseLines(v.params, 'params', 'Name=value'),
    vendor_urls: parseLines(v.vendor_urls, 'vendor_urls', 'vendor=URL'),
    require_certificate: v.require_certificate,
  };
  const optional = {
    upgrade_rule: v.upgrade_rule.trim() || null,
    short_code: v.short_code.trim() || null,
    short_code_prefixes: v.short_code_prefixes.trim() ? v.short_code_prefixes.split(/[\s,]+/).filter(Boolean) : null,
  };
  for (const [k, x] of Object.entries(optional)) if (x !== null || !creating) b[k] = x;
  if (v.short_code_hourly_claims.trim() !== '') {
    const n = Number(v.short_code_hourly_claims);
    b.short_code_hourly_claims = Number.isInteger(n) ? n : v.short_code_hourly_claims;
  }
  return b;
}

// ---- the preview ----------------------------------------------------------------

/** The answers /redirect gives a phone of the saved profile, rendered by ztpd itself
 *  (GET /v1/profiles/{id}/preview): the console keeps no copy of the renderer. */
function preview(profileId) {
  const out = h('pre', { class: 'preview', tabindex: '0', 'aria-label': 'The answer this phone would get' });
  const resolved = h('p', { class: 'mono' });
  const macIn = h('input', { id: 'pv-mac', value: '0004f2aabbcc', autocomplete: 'off', spellcheck: 'false' });
  const modelIn = h('input', { id: 'pv-model', value: 'CP-8845', autocomplete: 'off' });
  const serialIn = h('input', { id: 'pv-serial', value: 'FCH0000001', autocomplete: 'off' });
  const note = h('p', { class: 'hint', id: 'pv-note', 'aria-live': 'polite' });
  let seq = 0;
  let timer = null;
  if (!profileId) {
    note.textContent = 'Create the profile to preview the answer a phone gets.';
    return { el: h('section', { class: 'card', 'aria-labelledby': 'pv-title' }, h('h2', { id: 'pv-title' }, 'Preview'), note),
      draw: () => {} };
  }
  async function draw() {
    const mine = ++seq;
    try {
      const a = await get('/v1/profiles/' + seg(profileId) + '/preview',
        { mac: macIn.value.trim(), model: modelIn.value.trim(), serial: serialIn.value.trim() });
      if (mine !== seq) return; // a later draw owns the box
      out.textContent = a.xml;
      resolved.textContent = a.json.url;
      note.textContent = 'What ztpd answers GET /redirect/{mac}.xml with the saved profile; the phone expands ' +
        'its own macros. $(ZTP_TOKEN) becomes the device\'s own token, which only the server mints.';
    } catch (e) {
      if (mine !== seq) return;
      out.textContent = resolved.textContent = '';
      note.textContent = (e.errors || []).map((x) => `${x.field}: ${x.detail}`).join('; ') || e.message;
    }
  }
  const later = () => { clearTimeout(timer); timer = setTimeout(draw, 250); }; // one request per pause in typing
  const box = h('section', { class: 'card', 'aria-labelledby': 'pv-title' },
    h('h2', { id: 'pv-title' }, 'Preview'),
    h('div', { class: 'filters' },
      h('div', { class: 'field' }, h('label', { for: 'pv-mac' }, 'Phone MAC'), macIn),
      h('div', { class: 'field' }, h('label', { for: 'pv-model' }, 'Model'), modelIn),
      h('div', { class: 'field' }, h('label', { for: 'pv-serial' }, 'Serial'), serialIn)),
    note, out, h('p', null, 'The profile URL for this phone: '), resolved);
  for (const i of [macIn, modelIn, serialIn]) i.addEventListener('input', later);
  return { el: box, draw };
}

// ---- the page ---------------------------------------------------------------------

/** @param {HTMLElement} root  @param {object} ctx (see console/README.md) */
export async function render(root, ctx) {
  const creating = !ctx.params.id;
  const msg = messageArea();
  let p = { name: '', profile_rule: '', upgrade_rule: '', short_code: '', params: {}, vendor_urls: {}, require_certificate: false };
  if (!creating) {
    try {
      p = await get('/v1/profiles/' + seg(ctx.params.id));
    } catch (e) {
      root.append(pageTitle('Profile'), msg.el);
      msg.error(e.status === 404 ? new Error('No such profile here.') : e);
      return;
    }
  }
  const title = creating ? 'New profile' : 'Profile ' + p.name;
  ctx.title(title);
  const f = form({
    submit: creating ? 'Create profile' : 'Save changes',
    mapField: (field) => String(field).split('.')[0],
    fields: [
      { name: 'name', label: 'Name', required: true, value: p.name, hint: 'Unique among your profiles.' },
      { name: 'profile_rule', label: 'Profile rule', required: true, value: p.profile_rule, placeholder: 'https://prov.example.com/$MA.xml',
        hint: 'Optional [--options] then an absolute http, https or tftp URL; macros such as $MA allowed; at most 1024 characters.' },
      { name: 'upgrade_rule', label: 'Upgrade rule', value: p.upgrade_rule || '', hint: 'Same form as the profile rule; leave empty for none.' },
      { name: 'short_code', label: 'Short code', value: p.short_code || '', inputmode: 'numeric', hint: '3 to 16 digits people can type on a phone; unique across the service.' },
      { name: 'params', label: 'Parameters', type: 'textarea', value: toLines(p.params), placeholder: 'Primary_DNS=192.0.2.53',
        hint: 'One per line: Name=value (names of letters, digits and _; not Profile_Rule or Upgrade_Rule).' },
      { name: 'vendor_urls', label: 'URLs for other vendors', type: 'textarea', rows: 3, value: toLines(p.vendor_urls),
        hint: `One per line: vendor=URL, vendor one of ${VENDORS.join(', ')}.` },
      { name: 'short_code_prefixes', label: 'MAC prefixes a short code may claim', value: (p.short_code_prefixes || []).join(' '),
        hint: 'Prefixes of 6 to 12 hex digits separated by spaces; empty: any.' },
      { name: 'short_code_hourly_claims', label: 'Unowned devices a short code may claim per hour', type: 'number',
        value: p.short_code_hourly_claims ?? '', hint: '0 to 1000000; empty keeps the current value (100 when new).' },
      { name: 'require_certificate', label: 'Require a device certificate', type: 'checkbox', value: !!p.require_certificate },
    ],
    async onSubmit(v) {
      if (creating) {
        const made = await post('/v1/profiles', body(v, true));
        flash(`Profile ${made.name} created.`);
        ctx.navigate('/profiles/' + made.id, { replace: true });
      } else {
        p = await patch('/v1/profiles/' + seg(p.id), body(v, false));
        f.msg.show('Saved.', 'ok');
        pv.draw();
      }
    },
  });
  const pv = preview(creating ? null : p.id);
  pv.draw();

  const extra = [];
  if (!creating) {
    const delMsg = messageArea();
    const delButton = h('button', { type: 'button', class: 'danger' }, 'Delete this profile');
    delButton.addEventListener('click', async () => {
      if (delButton.dataset.confirm !== '1') {
        delButton.dataset.confirm = '1';
        delButton.textContent = 'Click again to delete ' + p.name;
        return;
      }
      try {
        await del('/v1/profiles/' + seg(p.id));
        flash(`Profile ${p.name} deleted.`);
        ctx.navigate('/profiles', { replace: true });
      } catch (e) {
        delMsg.error(e);
        delButton.dataset.confirm = '';
        delButton.textContent = 'Delete this profile';
      }
    });
    extra.push(h('section', { class: 'card', 'aria-labelledby': 'del-title' }, h('h2', { id: 'del-title' }, 'Delete'),
      h('p', null, 'A profile that devices still use cannot be deleted.'), delMsg.el, delButton));
  }
  root.append(pageTitle(title, h('a', { href: '#/profiles' }, 'All profiles')), msg.el,
    h('section', { class: 'card', 'aria-label': 'Fields' }, f.el), pv.el, ...extra);
}
