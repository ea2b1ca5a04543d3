// The imports page: a dry run's errors by line, then an import job with its
// progress bar; the CSV splitting into parts.
import { newPage, signedInPage, open, assert, api, until, randomMac, screenshot, axeViolations } from '../lib.mjs';

const csvFile = (name, text) => ({ name, mimeType: 'text/csv', buffer: Buffer.from(text) });

export const tests = [
  {
    name: 'split_csv_repeats_the_header_and_keeps_line_numbers',
    async run(t) {
      // the page's own module, loaded in the browser (under the real CSP)
      const page = await newPage(t);
      await open(page, '#/signin');
      const r = await page.evaluate(async () => {
        const base = document.querySelector('script[type="module"]').src.replace(/app\.js$/, '');
        const { splitCsv } = await import(base + 'pages/imports.js');
        const rows = Array.from({ length: 10 }, (_, i) => `0004f2${String(i).padStart(6, '0')},m${i}`);
        return { rows, parts: splitCsv('mac,model\n' + rows.join('\n') + '\n', 60),
          quoted: splitCsv('mac,model\n0004f2000001,"a\nb"\n0004f2000002,c\n', 20) };
      });
      const { rows, parts, quoted } = r;
      assert(parts.length > 2, 'several parts: ' + parts.length);
      assert(parts.every((p) => p.text.startsWith('mac,model\n')), 'each part has the header');
      const back = parts.flatMap((p) => p.text.trim().split('\n').slice(1));
      assert(JSON.stringify(back) === JSON.stringify(rows), 'every row once, in order');
      assert(parts[1].firstLine === 2 + parts[0].text.trim().split('\n').length - 1, 'the second part knows its first line');
      assert(quoted.every((p) => (p.text.match(/"/g) || []).length % 2 === 0), 'a quoted newline is never cut');
    },
  },
  {
    name: 'import_dry_run_shows_errors_by_line_and_imports_nothing',
    async run(t) {
      const good = randomMac();
      const page = await signedInPage(t, 'operator');
      await open(page, '#/imports');
      await page.getByLabel('CSV file', { exact: true }).setInputFiles(csvFile('bad.csv', `mac,model\n${good},T54W\nnot-a-mac,T54W\n${randomMac()},T54W\n`));
      await page.getByRole('button', { name: 'Check (dry run)' }).click();
      const row = page.locator('table.errors tbody tr').first();
      await row.waitFor();
      assert((await row.locator('td[data-label="Line"]').innerText()) === '3', 'the error is on line 3');
      assert((await row.locator('td[data-label="Text"]').innerText()).includes('not-a-mac'), 'the line\'s text is shown');
      assert(await page.getByRole('button', { name: 'Import' }).isDisabled(), 'no import after a failed dry run');
      await screenshot(page, 'imports-dry-run-errors');
      assert((await api('GET', '/v1/devices/' + good)).status === 404, 'nothing was imported');
    },
  },
  {
    name: 'import_job_follows_rows_done_with_a_progress_bar',
    async run(t) {
      const macs = Array.from({ length: 3000 }, randomMac);
      const text = 'mac,profile,model\n' + macs.map((m) => `${m},Main office,T54W`).join('\n') + '\n';
      const page = await signedInPage(t, 'operator');
      await open(page, '#/imports');
      await page.getByLabel('CSV file', { exact: true }).setInputFiles(csvFile('fleet.csv', text));
      await page.getByRole('button', { name: 'Check (dry run)' }).click();
      await page.getByText('The dry run found no problem').waitFor({ timeout: 60000 });
      assert((await page.locator('main').innerText()).includes('3000'), 'the dry run counts the new devices');
      await page.getByRole('button', { name: 'Import' }).click();
      const bar = page.locator('progress#import-progress');
      await bar.waitFor();
      await page.getByText('Imported: 3000 new').waitFor({ timeout: 90000 });
      const [value, max] = await bar.evaluate((b) => [b.value, b.max]);
      assert(value === 3000 && max === 3000, `the bar ends full: ${value} of ${max}`);
      await screenshot(page, 'imports-done');
      await until(async () => (await api('GET', '/v1/devices/' + macs[2999])).status === 200, 'the last device');
      assert((await api('GET', '/v1/devices/' + macs[0])).json.model === 'T54W', 'the rows were applied');
      assert((await page.locator('table.list').last().innerText()).includes('succeeded'), 'the job list shows it');
    },
  },
  {
    name: 'axe_imports_showing_a_dry_run_and_a_job',
    async run(t) {
      const page = await signedInPage(t, 'operator', { bypassCSP: true });
      await open(page, '#/imports');
      await page.getByLabel('CSV file', { exact: true }).setInputFiles(csvFile('mixed.csv', `mac\n${randomMac()}\nbad\n`));
      await page.getByRole('button', { name: 'Check (dry run)' }).click();
      await page.locator('table.errors').waitFor();
      let bad = await axeViolations(page);
      assert(bad.length === 0, 'with errors: ' + bad.join(' | '));
      await page.getByLabel('CSV file', { exact: true }).setInputFiles(csvFile('ok.csv', `mac\n${randomMac()}\n`));
      await page.getByRole('button', { name: 'Check (dry run)' }).click();
      await page.getByRole('button', { name: 'Import' }).click();
      await page.getByText('Imported: 1 new').waitFor({ timeout: 60000 });
      bad = await axeViolations(page);
      assert(bad.length === 0, 'after a job: ' + bad.join(' | '));
    },
  },
  {
    name: 'viewer_is_refused_an_import_and_sees_why',
    async run(t) {
      const mac = randomMac();
      const page = await signedInPage(t, 'viewer');
      await open(page, '#/imports');
      await page.getByLabel('CSV file', { exact: true }).setInputFiles(csvFile('one.csv', `mac\n${mac}\n`));
      await page.getByRole('button', { name: 'Check (dry run)' }).click();
      const alert = page.locator('main [role="alert"]');
      await alert.waitFor();
      assert((await alert.innerText()).includes('operator'), 'the refusal names the role needed: ' + (await alert.innerText()));
      assert(await page.getByRole('button', { name: 'Import' }).isDisabled(), 'no import offered');
      assert((await api('GET', '/v1/devices/' + mac)).status === 404, 'nothing was imported');
    },
  },
];
