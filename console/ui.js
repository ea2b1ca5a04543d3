// Small shared helpers for the pages: building elements (never from HTML
// text, so nothing the API returns can become markup), messages, forms that
// show the API's errors at their fields, lists paged by cursor, SVG charts.
import { ApiError } from './api.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
let uid = 0;
/** A fresh id for label/aria wiring: prefix-N. */
export const newId = (prefix = 'id') => `${prefix}-${++uid}`;

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    else if (k === 'value' || k === 'checked' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

/**
 * h('button', {type: 'button', class: 'x', onclick: fn}, 'text', child...)
 * Attributes are set with setAttribute (onX functions become listeners;
 * value/checked/selected become properties); children are nodes or text.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** The SVG counterpart of h(). */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** Empties el and fills it with children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** The page's heading: an h1 focused on arrival so screen readers announce it. */
export function pageTitle(text, ...extra) {
  return h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, text), ...extra);
}

// ---- messages ------------------------------------------------------------

/**
 * An accessible message area for one page or form: msg.show(text, kind)
 * with kind 'error' (role=alert, announced at once), 'ok' or 'info'
 * (polite); msg.clear(). Put msg.el where the message belongs.
 */
export function messageArea() {
  const el = h('div', { class: 'msg-area' });
  return {
    el,
    show(text, kind = 'info', ...extra) {
      const box = h('div', { class: ['msg', 'msg-' + kind], role: kind === 'error' ? 'alert' : 'status' }, text, ...extra);
      replace(el, box);
      return box;
    },
    error(err) {
      return this.show(err instanceof ApiError || err instanceof Error ? err.message : String(err), 'error');
    },
    clear() { el.replaceChildren(); },
  };
}

/** A message in the layout's global area (kept across one navigation). */
export function flash(text, kind = 'ok') {
  const area = document.getElementById('flash');
  if (!area) return;
  area.dataset.keep = '1';
  replace(area, h('div', { class: ['msg', 'msg-' + kind] }, text));
}

// ---- formatting ------------------------------------------------------------

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
/** A timestamp from the API as local text, in a <time> element. */
export function time(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const d = new Date(iso);
  return h('time', { datetime: iso }, isNaN(d) ? iso : dateFmt.format(d));
}

/** A MAC (12 hex digits) as aa:bb:cc:dd:ee:ff. */
export function macText(mac) {
  const m = String(mac || '').toLowerCase();
  return /^[0-9a-f]{12}$/.test(m) ? m.match(/../g).join(':') : m;
}

/** A status word as a badge. */
export function badge(text, kind) {
  return h('span', { class: ['badge', 'badge-' + (kind || text)] }, text);
}

/** A button that copies text to the clipboard and says so. */
export function copyButton(text, label = 'Copy') {
  const b = h('button', { type: 'button', class: 'secondary' }, label);
  b.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      b.textContent = 'Copied';
    } catch (e) {
      b.textContent = 'Copy failed: select the text';
    }
  });
  return b;
}

// ---- forms -------------------------------------------------------------------

/**
 * form({fields, submit, onSubmit, values, msg}) → {el, values(), setErrors(err), busy(b)}
 * fields: [{name, label, type ('text', 'email', 'password', 'number',
 *   'select', 'textarea', 'checkbox', 'file'), options ([[value, text]]),
 *   hint, required, autocomplete, placeholder, value, rows, accept}]
 * onSubmit(values) may return a promise; an ApiError it throws is shown: its
 * detail at the top (role=alert), each of its `errors` next to the field of
 * that name (aria-invalid, aria-describedby), the first such field focused.
 * An error whose field is not in the form is listed at the top. `mapField`
 * (optional) maps an API field name (e.g. "params.x") to a form field name.
 */
export function form({ fields, submit = 'Save', onSubmit, msg, mapField, extra, cls }) {
  msg = msg || messageArea();
  const controls = {};
  const errorEls = {};
  const el = h('form', { class: ['form', cls], novalidate: true });
  el.append(msg.el);
  for (const f of fields) {
    const id = newId('f-' + f.name);
    const hintId = f.hint ? id + '-hint' : null;
    const errId = id + '-err';
    let control;
    const common = { id, name: f.name, required: !!f.required, 'aria-describedby': [hintId, errId].filter(Boolean).join(' ') };
    if (f.type === 'select') {
      control = h('select', common, (f.options || []).map(([v, t]) => h('option', { value: v, selected: String(f.value ?? '') === String(v) }, t)));
    } else if (f.type === 'textarea') {
      control = h('textarea', { ...common, rows: f.rows || 4, placeholder: f.placeholder, spellcheck: 'false' });
      control.value = f.value ?? '';
    } else if (f.type === 'checkbox') {
      control = h('input', { ...common, type: 'checkbox', checked: !!f.value });
    } else {
      control = h('input', {
        ...common, type: f.type || 'text', autocomplete: f.autocomplete || 'off', placeholder: f.placeholder,
        inputmode: f.inputmode, accept: f.accept, minlength: f.minlength, value: f.type === 'file' ? undefined : (f.value ?? ''),
      });
    }
    controls[f.name] = control;
    errorEls[f.name] = h('p', { id: errId, class: 'field-error' });
    const label = h('label', { for: id, class: f.required ? 'req' : null }, f.label);
    const hint = f.hint ? h('p', { id: hintId, class: 'hint' }, f.hint) : null;
    el.append(h('div', { class: ['field', f.type === 'checkbox' ? 'field-check' : null] },
      f.type === 'checkbox' ? [control, label] : [label, control], hint, errorEls[f.name]));
  }
  if (extra) el.append(extra);
  const button = h('button', { type: 'submit' }, submit);
  el.append(h('div', { class: 'actions' }, button));

  function values() {
    const out = {};
    for (const f of fields) {
      const c = controls[f.name];
      if (f.type === 'checkbox') out[f.name] = c.checked;
      else if (f.type === 'file') out[f.name] = c.files && c.files[0];
      else out[f.name] = c.value;
    }
    return out;
  }
  function clearErrors() {
    msg.clear();
    for (const n of Object.keys(controls)) {
      controls[n].removeAttribute('aria-invalid');
      errorEls[n].replaceChildren();
    }
  }
  function setErrors(err) {
    clearErrors();
    const stray = [];
    let first = null;
    for (const e of (err && err.errors) || []) {
      const name = mapField ? mapField(e.field) : e.field;
      if (name in controls) {
        controls[name].setAttribute('aria-invalid', 'true');
        const prev = errorEls[name].textContent;
        errorEls[name].textContent = prev ? prev + '; ' + e.detail : e.detail;
        first = first || controls[name];
      } else {
        stray.push(`${e.field}: ${e.detail}`);
      }
    }
    msg.show(err.message || String(err), 'error', stray.length ? h('ul', null, stray.map((t) => h('li', null, t))) : null);
    if (first) first.focus();
  }
  function busy(b) {
    button.disabled = b;
    el.setAttribute('aria-busy', b ? 'true' : 'false');
  }
  el.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors();
    busy(true);
    try {
      await onSubmit(values(), api);
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      setErrors(e);
    } finally {
      busy(false);
    }
  });
  const api = { el, msg, controls, values, setErrors, clearErrors, busy, button };
  return api;
}

// ---- lists -------------------------------------------------------------------

/**
 * pagedList({columns, load, empty, caption}) → {el, reload()}
 * load(cursor) → Promise<{items, next_cursor}> (cursor undefined for the
 * first page). columns: [{label, cell(item) → node or text}]. Shows one page
 * at a time with Previous/Next buttons driven by next_cursor; on narrow
 * screens rows become labelled cards (CSS, data-label).
 */
export function pagedList({ columns, load, empty = 'Nothing here yet.', caption }) {
  const msg = messageArea();
  const body = h('tbody');
  const table = h('table', { class: 'list' },
    caption ? h('caption', null, caption) : null,
    h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col' }, c.label)))), body);
  const prev = h('button', { type: 'button', class: 'secondary' }, 'Previous page');
  const next = h('button', { type: 'button', class: 'secondary' }, 'Next page');
  const status = h('p', { class: 'muted pager-status', 'aria-live': 'polite' });
  const el = h('div', { class: 'paged' }, msg.el, table, h('div', { class: 'pager' }, prev, status, next));
  let stack = [];      // cursors of the pages before this one
  let cursor;          // this page's cursor
  let nextCursor = null;

  async function show(c) {
    el.setAttribute('aria-busy', 'true');
    msg.clear();
    try {
      const page = await load(c);
      const items = (page && page.items) || [];
      cursor = c;
      nextCursor = (page && page.next_cursor) || null;
      replace(body, items.length ? items.map((it) => h('tr', null, columns.map((col) =>
        h('td', { 'data-label': col.label }, col.cell(it))))) :
        h('tr', null, h('td', { colspan: columns.length, class: 'empty' }, empty)));
      status.textContent = items.length ? `Page ${stack.length + 1}, ${items.length} shown` : '';
      prev.hidden = stack.length === 0;
      next.hidden = !nextCursor;
    } catch (e) {
      msg.error(e);
    } finally {
      el.setAttribute('aria-busy', 'false');
    }
  }
  next.addEventListener('click', () => { stack.push(cursor); show(nextCursor); });
  prev.addEventListener('click', () => { show(stack.pop()); });
  prev.hidden = next.hidden = true;
  show(undefined);
  return { el, reload() { stack = []; return show(undefined); } };
}

/** A definition list of [label, value] pairs. */
export function fieldList(pairs) {
  return h('dl', { class: 'fields' }, pairs.map(([k, v]) => [h('dt', null, k), h('dd', null, v ?? '—')]));
}

// ---- charts (SVG, drawn here) ---------------------------------------------------

/**
 * barChart({title, data: [{label, value, kind}]}) → <figure>: horizontal
 * bars, one per item, with values as text (readable without colour), and a
 * table equivalent for screen readers via the SVG's title/desc.
 */
export function barChart({ title, data }) {
  const rowH = 28, labelW = 110, valueW = 60, width = 360;
  const max = Math.max(1, ...data.map((d) => d.value));
  const height = Math.max(rowH, data.length * rowH);
  const descText = data.map((d) => `${d.label}: ${d.value}`).join(', ');
  const tid = newId('chart-t'), did = newId('chart-d');
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-labelledby': `${tid} ${did}` },
    s('title', { id: tid }, title), s('desc', { id: did }, descText || 'no data'),
    data.map((d, i) => {
      const w = Math.round(((width - labelW - valueW) * d.value) / max);
      const y = i * rowH;
      return s('g', null,
        s('text', { x: labelW - 8, y: y + rowH / 2 + 5, class: 'chart-label', 'text-anchor': 'end' }, d.label),
        s('rect', { x: labelW, y: y + 5, width: Math.max(d.value ? 2 : 0, w), height: rowH - 10, class: ['bar', 'bar-' + (d.kind || d.label)] }),
        s('text', { x: labelW + w + 6, y: y + rowH / 2 + 5, class: 'chart-value' }, String(d.value)));
    }));
  return h('figure', { class: 'chart-box' }, h('figcaption', null, title), svg);
}

/**
 * timeChart({title, data: [{at, value}], unit}) → <figure>: columns over
 * time (e.g. contacts per hour), with the first and last times and the
 * maximum labelled.
 */
export function timeChart({ title, data, unit = '' }) {
  const width = 360, height = 160, left = 36, bottom = 22, top = 10;
  const max = Math.max(1, ...data.map((d) => d.value));
  const n = Math.max(1, data.length);
  const colW = (width - left) / n;
  const plotH = height - bottom - top;
  const total = data.reduce((a, d) => a + d.value, 0);
  const tid = newId('chart-t'), did = newId('chart-d');
  const fmt = (iso) => new Date(iso).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit' });
  const desc = data.length ? `${total} ${unit} from ${fmt(data[0].at)} to ${fmt(data[data.length - 1].at)}, at most ${max} in one hour` : 'no data';
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-labelledby': `${tid} ${did}` },
    s('title', { id: tid }, title), s('desc', { id: did }, desc),
    s('line', { x1: left, y1: top + plotH, x2: width, y2: top + plotH, class: 'axis' }),
    s('text', { x: left - 4, y: top + 8, class: 'chart-label', 'text-anchor': 'end' }, String(max)),
    s('text', { x: left - 4, y: top + plotH, class: 'chart-label', 'text-anchor': 'end' }, '0'),
    data.map((d, i) => {
      const hgt = Math.round((plotH * d.value) / max);
      return s('rect', { x: left + i * colW, y: top + plotH - hgt, width: Math.max(1, colW - 1), height: hgt, class: 'bar bar-time' },
        s('title', null, `${fmt(d.at)}: ${d.value}`));
    }),
    data.length ? [
      s('text', { x: left, y: height - 6, class: 'chart-label' }, fmt(data[0].at)),
      s('text', { x: width, y: height - 6, class: 'chart-label', 'text-anchor': 'end' }, fmt(data[data.length - 1].at)),
    ] : s('text', { x: left + 8, y: top + plotH / 2, class: 'chart-label' }, 'No contacts yet'));
  return h('figure', { class: 'chart-box' }, h('figcaption', null, title), svg);
}
