// The overview: its charts say what /v1/stats says.
import { signedInPage, assert, api } from '../lib.mjs';

export const tests = [
  {
    name: 'overview_charts_show_the_stats',
    async run(t) {
      const page = await signedInPage(t, 'viewer');
      const stats = (await api('GET', '/v1/stats')).json;
      const charts = page.locator('main figure svg.chart');
      assert(await charts.count() === 2, 'two charts');
      const bars = await charts.nth(0).locator('g').evaluateAll((gs) => gs.map((g) =>
        [g.querySelector('.chart-label').textContent.replace(' ', '_'), Number(g.querySelector('.chart-value').textContent)]));
      const shown = Object.fromEntries(bars);
      for (const [status, n] of Object.entries(stats.status_counts)) {
        assert(shown[status] === n, `${status}: chart ${shown[status]}, API ${n}`);
      }
      const columns = await charts.nth(1).locator('rect').count();
      assert(columns === stats.contacts_per_hour.length, `one column per hour: ${columns}`);
      const total = stats.contacts_per_hour.reduce((a, x) => a + x.contacts, 0);
      assert((await page.locator('main').innerText()).includes(`Contacts in the last 7 days: ${total}`), 'the total is written');
      const desc = await charts.nth(0).locator('desc').textContent();
      assert(desc.includes(`open: ${stats.status_counts.open}`), 'screen readers get the numbers: ' + desc);
    },
  },
];
