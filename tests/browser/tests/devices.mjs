// The devices pages: search, filters, cursor paging, one device's status
// change and timeline, a viewer refused.
import { config, signedInPage, open, follow, settle, assert, api, Skip } from '../lib.mjs';

const rowMacs = (page) => page.locator('table.list tbody td[data-label="MAC"]').allInnerTexts()
  .then((xs) => xs.map((x) => x.replace(/:/g, '')));

/** Every device the API lists for a query, following next_cursor. */
async function allDevices(query = '') {
  const out = [];
  let cursor = '';
  do {
    const r = await api('GET', `/v1/devices?limit=1000${query}${cursor ? '&cursor=' + cursor : ''}`);
    out.push(...r.json.items);
    cursor = r.json.next_cursor;
  } while (cursor);
  return out;
}

export const tests = [
  {
    name: 'devices_page_through_every_device_by_cursor',
    async run(t) {
      const page = await signedInPage(t, 'viewer');
      await open(page, '#/devices');
      const want = (await allDevices()).map((d) => d.mac);
      assert(want.length > 50, 'the set-up has more than one page of devices');
      const seen = [];
      for (let n = 1; ; n++) {
        const macs = await rowMacs(page);
        assert(macs.length > 0 && macs.length <= 50, `page ${n} shows ${macs.length} rows`);
        seen.push(...macs);
        const next = page.getByRole('button', { name: 'Next page' });
        if (!(await next.isVisible())) break;
        await next.click();
        await settle(page);
      }
      assert(JSON.stringify(seen) === JSON.stringify(want), `paging showed ${seen.length} devices in order, the API has ${want.length}`);
      await page.getByRole('button', { name: 'Previous page' }).click();
      await settle(page);
      assert((await rowMacs(page))[0] === want[0], 'Previous goes back to the first page');
    },
  },
  {
    name: 'devices_filter_by_status_and_profile',
    async run(t) {
      const page = await signedInPage(t, 'viewer');
      await open(page, '#/devices');
      await page.getByLabel('Status').selectOption('acquired');
      await page.getByLabel('Profile').selectOption(config.profile_id);
      await page.getByRole('button', { name: 'Search' }).click();
      await settle(page);
      const statuses = await page.locator('table.list tbody td[data-label="Status"]').allInnerTexts();
      const want = await allDevices(`&status=acquired&profile_id=${config.profile_id}`);
      assert(statuses.length === want.length && statuses.every((s) => s === 'acquired'), `shown: ${statuses.join(',')}`);
      assert((await page.evaluate(() => location.hash)).includes('status=acquired'), 'the filter is in the address');
      await page.reload();
      await settle(page);
      assert(await page.getByLabel('Status').inputValue() === 'acquired', 'the filter survives a reload');
    },
  },
  {
    name: 'devices_search_by_mac_part',
    async run(t) {
      const part = config.macs[3].slice(5, 10); // digits in the middle of the MAC
      const found = (await allDevices('&q=' + part)).map((d) => d.mac);
      if (found.some((m) => !m.includes(part))) throw new Skip('this ztpd ignores q on GET /v1/devices (not on main yet)');
      const page = await signedInPage(t, 'viewer');
      await open(page, '#/devices');
      await page.getByLabel('MAC or part of it').fill(part.match(/.{1,2}/g).join(':'));
      await page.getByRole('button', { name: 'Search' }).click();
      await settle(page);
      const shown = await rowMacs(page);
      assert(shown.length === found.length && shown.includes(config.macs[3]), `shown ${shown.join(' ')}, API ${found.join(' ')}`);
    },
  },
  {
    name: 'devices_filter_by_model',
    async run(t) {
      const found = await allDevices('&model=T54W');
      if (found.some((d) => d.model !== 'T54W')) throw new Skip('this ztpd ignores model on GET /v1/devices (not on main yet)');
      const page = await signedInPage(t, 'viewer');
      await open(page, '#/devices');
      await page.getByLabel('Model').fill('T54W');
      await page.getByRole('button', { name: 'Search' }).click();
      await settle(page);
      const models = await page.locator('table.list tbody td[data-label="Model"]').allInnerTexts();
      assert(models.length > 0 && models.every((m) => m === 'T54W'), 'only T54W shown: ' + models.join(','));
    },
  },
  {
    name: 'device_status_change_appears_in_the_timeline',
    async run(t) {
      const mac = config.macs[10];
      const page = await signedInPage(t, 'operator');
      await follow(page, page.locator('nav a[href="#/devices"]'));
      await follow(page, page.locator(`a[href="#/devices/${mac}"]`));
      const before = await page.locator('ol.timeline li').count();
      await page.getByLabel('New status').selectOption('aborted');
      await page.getByRole('button', { name: 'Change status' }).click();
      await page.getByText('The status is now aborted.').waitFor();
      assert((await page.locator('dl.fields').innerText()).includes('aborted'), 'the fields show the new status');
      const first = await page.locator('ol.timeline li').first().innerText();
      assert(await page.locator('ol.timeline li').count() === before + 1 && first.includes('aborted'), 'the timeline starts with the change: ' + first);
      assert((await api('GET', '/v1/devices/' + mac)).json.status === 'aborted', 'the API agrees');
    },
  },
  {
    name: 'viewer_is_refused_a_status_change_and_sees_why',
    async run(t) {
      const mac = config.macs[11];
      const before = (await api('GET', '/v1/devices/' + mac)).json.status;
      const page = await signedInPage(t, 'viewer');
      await open(page, '#/devices/' + mac);
      await page.getByLabel('New status').selectOption('acquired');
      await page.getByRole('button', { name: 'Change status' }).click();
      const alert = page.locator('main form [role="alert"]');
      await alert.waitFor();
      const text = await alert.innerText();
      assert(/role|permission|forbidden|operator|allowed/i.test(text), 'the refusal is explained: ' + text);
      assert((await api('GET', '/v1/devices/' + mac)).json.status === before, 'nothing changed');
    },
  },
  {
    name: 'unknown_device_says_so',
    async run(t) {
      const page = await signedInPage(t, 'viewer');
      await open(page, '#/devices/02ffffffffff');
      assert((await page.locator('main [role="alert"]').innerText()).includes('No device'), 'a clear message');
    },
  },
];
