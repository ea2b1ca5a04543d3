// The profiles pages: create with the API's errors at their fields, edit,
// a taken name refused, the preview, a viewer refused.
import { config, signedInPage, open, follow, settle, assert, api, screenshot, axeViolations, until } from '../lib.mjs';

const invalidFields = (page) => page.locator('main form [aria-invalid="true"]').evaluateAll((els) => els.map((e) => e.name));
const errorAt = (page, name) => page.locator(`main form [name="${name}"]`).evaluate((el) =>
  document.getElementById(el.getAttribute('aria-describedby').split(' ').pop()).textContent);

async function profileNamed(name) {
  return (await api('GET', '/v1/profiles')).json.items.find((p) => p.name === name);
}

export const tests = [
  {
    name: 'profile_create_shows_each_api_error_at_its_field_then_saves',
    async run(t) {
      const name = 'Branch ' + Date.now();
      const page = await signedInPage(t, 'admin');
      await follow(page, page.locator('nav a[href="#/profiles"]'));
      await follow(page, page.getByRole('link', { name: 'New profile' }));
      await page.getByLabel('Name', { exact: true }).fill(name);
      await page.getByLabel('Profile rule').fill('ftp://prov.example.com/$MA.xml');
      await page.getByLabel('Short code', { exact: true }).fill('12');
      await page.getByLabel('Parameters').fill('Profile_Rule=https://elsewhere.example.com/');
      await page.getByRole('button', { name: 'Create profile' }).click();
      await page.locator('main form [aria-invalid="true"]').first().waitFor();
      const bad = (await invalidFields(page)).sort();
      assert(JSON.stringify(bad) === JSON.stringify(['params', 'profile_rule', 'short_code']), 'errors at: ' + bad.join(', '));
      assert((await errorAt(page, 'short_code')).length > 0, 'the short code error is written next to it');
      assert(await page.evaluate(() => document.activeElement.getAttribute('aria-invalid')) === 'true', 'focus goes to the first wrong field');
      assert((await page.locator('main form [role="alert"]').innerText()).length > 0, 'the problem\'s detail is shown at the top');
      await screenshot(page, 'profile-errors');
      assert(!(await profileNamed(name)), 'nothing was created');
      await page.getByLabel('Profile rule').fill('https://prov.example.com/$MA.xml');
      await page.getByLabel('Short code', { exact: true }).fill('');
      await page.getByLabel('Parameters').fill('Primary_DNS=192.0.2.53');
      await follow(page, page.getByRole('button', { name: 'Create profile' }));
      assert(/^#\/profiles\/[0-9a-f-]{36}$/.test(await page.evaluate(() => location.hash)), 'on the new profile\'s page');
      assert((await page.locator('#flash').innerText()).includes('created'), 'the creation is announced');
      const made = await profileNamed(name);
      assert(made && made.params.Primary_DNS === '192.0.2.53', 'the API has the profile with its parameters');
    },
  },
  {
    name: 'profile_edit_saves_and_a_taken_name_is_refused',
    async run(t) {
      const name = 'Edit me ' + Date.now();
      const made = (await api('POST', '/v1/profiles', { name, profile_rule: 'https://a.example.com/$MA' })).json;
      const page = await signedInPage(t, 'admin');
      await open(page, '#/profiles/' + made.id);
      await page.getByLabel('Name', { exact: true }).fill('Main office');
      await page.getByRole('button', { name: 'Save changes' }).click();
      const alert = page.locator('main form [role="alert"]');
      await alert.waitFor();
      assert(/name|taken|exists|already/i.test(await alert.innerText()), 'the conflict is explained: ' + (await alert.innerText()));
      await page.getByLabel('Name', { exact: true }).fill(name);
      await page.getByLabel('Upgrade rule').fill('https://fw.example.com/$PN.loads');
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.getByText('Saved.').waitFor();
      const after = (await api('GET', '/v1/profiles/' + made.id)).json;
      assert(after.name === name && after.upgrade_rule === 'https://fw.example.com/$PN.loads', 'the API has the change');
    },
  },
  {
    name: 'profile_preview_shows_the_answer_a_phone_would_get',
    async run(t) {
      const page = await signedInPage(t, 'viewer');
      await open(page, '#/profiles/' + config.profile_id);
      await page.getByLabel('Phone MAC').fill('00:04:f2:12:34:56');
      // ztpd renders it (GET /v1/profiles/{id}/preview): the very bytes /redirect sends
      const want = '<Profile_Rule ua="na">https://prov.example.com/$MA.xml</Profile_Rule>';
      await until(async () => (await page.locator('pre.preview').innerText()).includes(want), 'the XML answer');
      await until(async () => (await page.locator('main').innerText()).includes('https://prov.example.com/0004f2123456.xml'),
        'the URL for this phone');
      await page.getByLabel('Phone MAC').fill('00:04:f2');
      await until(async () => /mac: /.test(await page.locator('#pv-note').innerText()), 'the API\'s error about the MAC');
      assert((await page.locator('pre.preview').innerText()) === '', 'no stale answer beside the error');
    },
  },
  {
    name: 'viewer_is_refused_a_profile_change_and_sees_why',
    async run(t) {
      const page = await signedInPage(t, 'viewer');
      await open(page, '#/profiles/' + config.profile_id);
      await page.getByLabel('Name', { exact: true }).fill('Renamed by a viewer');
      await page.getByRole('button', { name: 'Save changes' }).click();
      const alert = page.locator('main form [role="alert"]');
      await alert.waitFor();
      assert((await alert.innerText()).includes('admin'), 'the refusal names the role needed: ' + (await alert.innerText()));
      assert((await api('GET', '/v1/profiles/' + config.profile_id)).json.name === 'Main office', 'nothing changed');
    },
  },
  {
    name: 'profile_in_use_cannot_be_deleted_and_says_so',
    async run(t) {
      const page = await signedInPage(t, 'admin');
      await open(page, '#/profiles/' + config.profile_id);
      const button = page.getByRole('button', { name: /delete/i });
      await button.click();
      await button.click(); // the second click confirms
      await page.locator('main section [role="alert"]').waitFor();
      assert((await api('GET', '/v1/profiles/' + config.profile_id)).status === 200, 'the profile is still there');
    },
  },
  {
    name: 'axe_profile_form_showing_errors',
    async run(t) {
      const page = await signedInPage(t, 'admin', { bypassCSP: true });
      await open(page, '#/profiles/new');
      await page.getByLabel('Name', { exact: true }).fill('x');
      await page.getByLabel('Profile rule').fill('not a url');
      await page.getByRole('button', { name: 'Create profile' }).click();
      await page.locator('main form [aria-invalid="true"]').first().waitFor();
      const bad = await axeViolations(page);
      assert(bad.length === 0, bad.join(' | '));
    },
  },
];
