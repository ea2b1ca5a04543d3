// Imports: drop or choose a CSV file, see the dry run's errors by line,
// then run it as an import job (create, upload in parts, start) followed by
// a progress bar fed by the job's rows_done (contract section 4).
import { get, post, put, del, request, seg } from '../api.js';
import { h, pageTitle, messageArea, pagedList, badge, time, replace, newId } from '../ui.js';

// Each part and each dry-run request stays well under ztpd's default body
// limit (ZTP_MAX_BODY_MB, 8 MiB).
const PART_BYTES = 4 * 1024 * 1024;
const POLL_MS = 500;
const SHOWN_ERRORS = 200;

/**
 * Splits CSV text into parts of at most maxBytes, each starting with the
 * header row: [{text, firstLine}] where firstLine is the file's line number
 * of the part's first data row. A quoted field spanning lines is kept whole
 * when the quotes balance at the cut.
 */
export function splitCsv(text, maxBytes = PART_BYTES) {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const header = lines[0] || '';
  const parts = [];
  let cur = [], size = 0, first = 2, open = false;
  const enc = new TextEncoder();
  for (let i = 1; i < lines.length; i++) {
    const n = enc.encode(lines[i]).length + 1;
    if (!open && cur.length && size + n > maxBytes) {
      parts.push({ text: header + '\n' + cur.join('\n') + '\n', firstLine: first });
      cur = []; size = 0; first = i + 1;
    }
    cur.push(lines[i]);
    size += n;
    if ((lines[i].match(/"/g) || []).length % 2 === 1) open = !open;
  }
  if (cur.length || !parts.length) parts.push({ text: header + '\n' + cur.join('\n') + (cur.length ? '\n' : ''), firstLine: first });
  return parts;
}

/** A part's line number (its header is line 1) as the file's line number. */
const fileLine = (part, line) => (line <= 1 ? line : part.firstLine + line - 2);

function reportView(report, lines, title) {
  const errors = report.errors || [];
  const conflicts = report.conflicts || [];
  return h('section', { class: 'card', 'aria-labelledby': 'rep-title' },
    h('h2', { id: 'rep-title' }, title),
    h('dl', { class: 'fields' },
      h('dt', null, 'New devices'), h('dd', null, String(report.created ?? 0)),
      h('dt', null, 'Updated'), h('dd', null, String(report.updated ?? 0)),
      h('dt', null, 'Skipped'), h('dd', null, String(report.skipped ?? 0)),
      h('dt', null, 'Owned by another provider'), h('dd', null, String(conflicts.length)),
      h('dt', null, 'Errors'), h('dd', null, String(errors.length))),
    conflicts.length ? [h('h3', null, 'MACs owned by another provider'), h('p', { class: 'mono' }, conflicts.slice(0, SHOWN_ERRORS).join(' '))] : null,
    errors.length ? h('table', { class: 'list errors' },
      h('caption', null, `Errors by line${errors.length > SHOWN_ERRORS ? ` (first ${SHOWN_ERRORS})` : ''}`),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Line'), h('th', { scope: 'col' }, 'Problem'), h('th', { scope: 'col' }, 'Text'))),
      h('tbody', null, errors.slice(0, SHOWN_ERRORS).map((e) => h('tr', null,
        h('td', { 'data-label': 'Line' }, String(e.line)),
        h('td', { 'data-label': 'Problem' }, e.detail),
        h('td', { 'data-label': 'Text' }, h('code', null, lines && e.line > 0 ? (lines[e.line - 1] ?? '') : '')))))) : null);
}

/** @param {HTMLElement} root  @param {object} ctx (see console/README.md) */
export function render(root, ctx) {
  ctx.title('Imports');
  const msg = messageArea();
  const fileId = newId('csv');
  const fileInput = h('input', { type: 'file', id: fileId, name: 'file', accept: '.csv,text/csv', 'aria-describedby': fileId + '-hint' });
  const conflict = h('select', { id: 'on-conflict', name: 'on_conflict' },
    h('option', { value: 'fail' }, 'Stop: import nothing'), h('option', { value: 'skip' }, 'Skip those devices'));
  const drop = h('div', { class: 'drop' },
    h('p', null, h('label', { for: fileId }, 'CSV file'), ' (or drop it here)'),
    fileInput,
    h('p', { class: 'hint', id: fileId + '-hint' }, 'A header row naming the columns: mac, and optionally profile (a profile name), model, serial.'));
  const checkButton = h('button', { type: 'button', disabled: true }, 'Check (dry run)');
  const importButton = h('button', { type: 'button', disabled: true }, 'Import');
  const cancelButton = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Cancel the import');
  const report = h('div', { 'aria-live': 'polite' });
  const progressBox = h('div');
  let file = null, text = '', lines = [], parts = [], polling = null, job = null, gone = false;

  const jobs = pagedList({
    empty: 'No import job yet.',
    columns: [
      { label: 'Created', cell: (j) => time(j.created_at) },
      { label: 'State', cell: (j) => badge(j.state) },
      { label: 'Rows', cell: (j) => `${j.rows_done ?? 0} of ${j.rows ?? 0}` },
      { label: 'Result', cell: (j) => `${j.created ?? 0} new, ${j.updated ?? 0} updated, ${j.skipped ?? 0} skipped` },
      { label: 'Dry run', cell: (j) => (j.dry_run ? 'yes' : 'no') },
    ],
    load: (cursor) => get('/v1/import-jobs', { cursor }),
  });

  async function choose(f) {
    msg.clear();
    replace(report);
    replace(progressBox);
    importButton.disabled = true;
    file = f;
    if (!f) { checkButton.disabled = true; return; }
    text = await f.text();
    lines = text.replace(/\r\n/g, '\n').split('\n');
    parts = splitCsv(text);
    const rows = Math.max(0, lines.filter((l) => l.trim()).length - 1);
    msg.show(`${f.name}: ${rows} rows${parts.length > 1 ? `, in ${parts.length} parts` : ''}. Check it with a dry run first.`, 'info');
    checkButton.disabled = false;
  }

  async function dryRun() {
    checkButton.disabled = importButton.disabled = true;
    msg.show('Checking…', 'info');
    const total = { created: 0, updated: 0, skipped: 0, conflicts: [], errors: [] };
    try {
      for (const part of parts) {
        let r;
        try {
          r = await request('POST', '/v1/devices/import', {
            query: { dry_run: 'true', on_conflict: conflict.value }, body: part.text, contentType: 'text/csv',
          });
        } catch (e) {
          if (e.status !== 422 || !Array.isArray(e.problem.errors)) throw e;
          r = e.problem; // the same report, with errors or conflicts
        }
        total.created += r.created || 0;
        total.updated += r.updated || 0;
        total.skipped += r.skipped || 0;
        total.conflicts.push(...(r.conflicts || []));
        total.errors.push(...(r.errors || []).map((e) => ({ ...e, line: fileLine(part, e.line) })));
      }
    } catch (e) {
      msg.error(e);
      checkButton.disabled = false;
      return;
    }
    const blocked = total.errors.length > 0 || (conflict.value === 'fail' && total.conflicts.length > 0);
    replace(report, reportView(total, lines, 'Dry run'));
    if (blocked) {
      msg.show('The dry run found problems: fix the file and choose it again. Nothing was imported.', 'error');
    } else {
      msg.show('The dry run found no problem. Import when ready.', 'ok');
      importButton.disabled = false;
      importButton.focus();
    }
    checkButton.disabled = false;
  }

  // one bar per job, updated in place so assistive technology follows it
  const bar = h('progress', { id: 'import-progress', max: '1', value: '0' });
  const barLabel = h('label', { for: 'import-progress' });
  function drawProgress(j) {
    bar.max = Math.max(1, j.rows || 0);
    bar.value = j.rows_done || 0;
    barLabel.textContent = `${j.state}: ${j.rows_done || 0} of ${j.rows || 0} rows`;
    if (!progressBox.firstChild) {
      replace(progressBox, h('section', { class: 'card', 'aria-labelledby': 'prog-title' },
        h('h2', { id: 'prog-title' }, 'Import job'), barLabel, bar));
    }
  }

  async function follow() {
    if (gone) return;
    try {
      job = await get('/v1/import-jobs/' + seg(job.id));
    } catch (e) {
      msg.error(e);
      polling = setTimeout(follow, POLL_MS * 4);
      return;
    }
    drawProgress(job);
    if (job.state === 'running' || job.state === 'open') {
      polling = setTimeout(follow, POLL_MS);
      return;
    }
    cancelButton.hidden = true;
    checkButton.disabled = false;
    replace(report, reportView(job, null, 'Import result'));
    if (job.state === 'succeeded') msg.show(`Imported: ${job.created} new, ${job.updated} updated, ${job.skipped} skipped.`, 'ok');
    else msg.show(`The import job ${job.state}; nothing was applied.`, 'error');
    jobs.reload();
  }

  async function runImport() {
    importButton.disabled = checkButton.disabled = true;
    try {
      job = await post('/v1/import-jobs', { format: 'csv', on_conflict: conflict.value });
      cancelButton.hidden = false;
      drawProgress({ ...job, state: 'uploading' });
      for (let i = 0; i < parts.length; i++) {
        msg.show(`Uploading part ${i + 1} of ${parts.length}…`, 'info');
        try {
          await put(`/v1/import-jobs/${seg(job.id)}/parts/${i + 1}`, parts[i].text, { contentType: 'text/csv' });
        } catch (e) {
          if (e.errors.length) replace(report, reportView({ errors: e.errors.map((x) => ({ ...x, line: fileLine(parts[i], x.line) })) }, lines, 'Upload refused'));
          throw e;
        }
      }
      await post(`/v1/import-jobs/${seg(job.id)}/start`);
      msg.show('Importing…', 'info');
      follow();
    } catch (e) {
      msg.error(e);
      cancelButton.hidden = true;
      checkButton.disabled = false;
    }
  }

  cancelButton.addEventListener('click', async () => {
    try {
      await del('/v1/import-jobs/' + seg(job.id));
    } catch (e) {
      msg.error(e);
    }
  });
  fileInput.addEventListener('change', () => choose(fileInput.files[0]));
  drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (ev) => {
    ev.preventDefault();
    drop.classList.remove('over');
    if (ev.dataTransfer.files.length) choose(ev.dataTransfer.files[0]);
  });
  checkButton.addEventListener('click', dryRun);
  importButton.addEventListener('click', runImport);

  root.append(pageTitle('Imports'),
    h('section', { class: 'card form', 'aria-labelledby': 'imp-title' }, h('h2', { id: 'imp-title' }, 'Import a CSV file'), drop,
      h('div', { class: 'field' }, h('label', { for: 'on-conflict' }, 'When a device belongs to another provider'), conflict),
      msg.el, h('div', { class: 'actions' }, checkButton, importButton, cancelButton)),
    report, progressBox, h('h2', null, 'Recent import jobs'), jobs.el);
  return () => { gone = true; clearTimeout(polling); };
}
