// Helpers shared by the pages that make secrets and remove things (codes,
// transfers, webhooks, API keys, people): a secret shown once, a two-step
// confirmation inside a list's row, a note on what the person's role allows,
// a group of checkboxes that shows the API's errors like form() does, and a
// filter kept in the address bar.
import { h, newId, replace, copyButton, messageArea } from './ui.js';

/** Lifetimes offered for codes and transfers (expires_in, seconds). */
export const LIFETIMES = [
  ['3600', '1 hour'],
  ['86400', '1 day'],
  ['604800', '7 days'],
  ['2592000', '30 days'],
];
export const DEFAULT_LIFETIME = '604800';

/**
 * secretPanel({title, values: [text], note}) → a section holding values the
 * API shows only once, each with a copy button, and focused on arrival so
 * that a keyboard or screen-reader user lands on it.
 */
export function secretPanel({ title, values, note, label = 'Secret' }) {
  const headId = newId('secret-h');
  const head = h('h2', { id: headId, tabindex: '-1' }, title);
  const list = h('ul', { class: 'secrets' }, values.map((v, i) =>
    h('li', { class: 'secret' },
      h('code', { 'aria-label': values.length > 1 ? `${label} ${i + 1}` : label }, v),
      copyButton(v, values.length > 1 ? `Copy ${i + 1}` : 'Copy'))));
  const all = values.length > 1 ? h('div', { class: 'actions' }, copyButton(values.join('\n'), 'Copy all')) : null;
  const el = h('section', { class: 'card once', 'aria-labelledby': headId }, head,
    h('p', { class: 'msg msg-info' }, note || 'Shown only now: copy it before you leave this page.'), list, all);
  return { el, focus() { head.focus(); } };
}

/**
 * A panel slot on a page: show(panel) puts a secretPanel (or any node) in
 * place of the last one and focuses it.
 */
export function slot() {
  const el = h('div', { class: 'slot' });
  return {
    el,
    show(panel) { replace(el, panel.el || panel); if (panel.focus) panel.focus(); },
    clear() { el.replaceChildren(); },
  };
}

/**
 * confirmButton({label, confirm, action, done}) → a button for a change that
 * cannot be undone: the first press asks (Yes/No, Yes focused; No or Escape
 * goes back), the second runs action(), a promise. Its error (such as the
 * API's 403) is shown right there; done() runs after success.
 */
export function confirmButton({ label, confirm, action, done, yes = 'Yes', no = 'No' }) {
  const msg = messageArea();
  const start = h('button', { type: 'button', class: 'secondary' }, label);
  const yesB = h('button', { type: 'button', class: 'danger' }, yes);
  const noB = h('button', { type: 'button', class: 'secondary' }, no);
  const question = h('span', { class: 'confirm', role: 'group', 'aria-label': confirm }, h('span', null, confirm, ' '), yesB, ' ', noB);
  const el = h('div', { class: 'row-action' }, start, msg.el);
  question.hidden = true;
  el.insertBefore(question, msg.el);
  function ask(on) {
    start.hidden = on;
    question.hidden = !on;
    (on ? yesB : start).focus();
  }
  start.addEventListener('click', () => { msg.clear(); ask(true); });
  noB.addEventListener('click', () => ask(false));
  question.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') ask(false); });
  yesB.addEventListener('click', async () => {
    // the row usually goes when the list reloads: keep the keyboard's place
    const heading = el.closest('section') && el.closest('section').querySelector('h2');
    yesB.disabled = noB.disabled = true;
    try {
      await action();
      if (done) await done();
      if (heading && !el.isConnected) {
        heading.setAttribute('tabindex', '-1');
        heading.focus();
      }
    } catch (e) {
      ask(false);
      msg.error(e);
    } finally {
      yesB.disabled = noB.disabled = false;
    }
  });
  return el;
}

/**
 * A note for a person whose role is below `role`: what they may not do here.
 * The controls stay: the server decides, and its refusal is shown.
 */
export function roleNote(ctx, role, what) {
  if (ctx.can(role)) return null;
  return h('p', { class: 'msg msg-info' },
    `Your role (${ctx.me && ctx.me.role}) lets you look, not ${what}: that needs the ${role} role.`);
}

/**
 * checkboxGroup({name, legend, options: [[value, text]], checked: [value]})
 * → {el, values(), take(err)}: a fieldset for a list field of a form();
 * take(err) shows err.errors for `name` at the fieldset and removes them
 * from err, so form() shows the rest where they belong.
 */
export function checkboxGroup({ name, legend, options, checked = [], hint }) {
  const errId = newId('f-' + name + '-err');
  const hintId = hint ? errId + '-hint' : null;
  const boxes = options.map(([v, t]) => {
    const id = newId('f-' + name);
    const box = h('input', { type: 'checkbox', id, name, value: v, checked: checked.includes(v) });
    return { box, el: h('div', { class: 'field-check' }, box, h('label', { for: id }, t)) };
  });
  const error = h('p', { id: errId, class: 'field-error' });
  const el = h('fieldset', { class: 'field group', 'aria-describedby': [hintId, errId].filter(Boolean).join(' ') },
    h('legend', null, legend), hint ? h('p', { id: hintId, class: 'hint' }, hint) : null,
    boxes.map((b) => b.el), error);
  return {
    el,
    values: () => boxes.filter((b) => b.box.checked).map((b) => b.box.value),
    clear() {
      error.replaceChildren();
      el.classList.remove('invalid');
      boxes.forEach((b) => b.box.removeAttribute('aria-invalid'));
    },
    take(err) {
      this.clear();
      const mine = (err.errors || []).filter((e) => e.field === name);
      if (!mine.length) return;
      err.errors = err.errors.filter((e) => e.field !== name);
      error.textContent = mine.map((e) => e.detail).join('; ');
      el.classList.add('invalid');
      boxes.forEach((b) => b.box.setAttribute('aria-invalid', 'true'));
      boxes[0].box.focus();
    },
  };
}

/**
 * filterSelect({label, name, options, ctx, path, onChange}) → a labelled
 * select whose value starts from the address's query and is written back to
 * it (without a new navigation), so a filtered list can be linked to.
 */
export function filterSelect({ label, name, options, ctx, path, onChange }) {
  const id = newId('filter-' + name);
  const initial = ctx.query.get(name) || '';
  const select = h('select', { id, name }, options.map(([v, t]) => h('option', { value: v, selected: v === initial }, t)));
  select.addEventListener('change', () => {
    const q = new URLSearchParams(ctx.query);
    if (select.value) q.set(name, select.value); else q.delete(name);
    const qs = q.toString();
    history.replaceState(null, '', '#' + path + (qs ? '?' + qs : ''));
    onChange(select.value);
  });
  const el = h('div', { class: 'filters' }, h('div', { class: 'field' }, h('label', { for: id }, label), select));
  return { el, value: () => select.value };
}

/** "1 device", "2 devices". */
export function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
