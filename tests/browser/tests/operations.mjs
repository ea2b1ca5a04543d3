// The pages that make secrets and change who may do what: activation codes,
// transfers, webhooks and their deliveries, API keys, people, the audit
// trail. Each page's main task done in the browser by the role it needs; a
// viewer refused every change with the API's 403 shown; the API's errors at
// their fields; secrets shown once. These tests use devices, keys and people
// of their own, never config's (other tests look at those).
import http from 'node:http';
import {
  config, newPage, newContext, signIn, signedInPage, open, follow, settle, assert, api, until, randomMac, screenshot,
  axeViolations, assertNoSideScroll, WIDTH_PHONE,
} from '../lib.mjs';

const CODE = /^\d{4}-\d{4}-\d{4}-\d{4}$/;
const CLIPBOARD = { permissions: ['clipboard-read', 'clipboard-write'] };

/** /v1 as the second provider (the receiving side of transfers). */
const otherApi = (method, p, body) => api(method, p, body, config.other_api_key);

/** n fresh devices of the test provider (or of `call`'s), claimed through the API. */
async function claimDevices(n, call = api) {
  const macs = [];
  for (let i = 0; i < n; i++) {
    const mac = randomMac();
    const r = await call('PUT', '/v1/devices/' + mac, { model: 'CP-8845' });
    assert(r.status === 201, `claiming ${mac} answered ${r.status}`);
    macs.push(mac);
  }
  return macs;
}

/** The secrets of the shown-once panel, once it has appeared. */
async function shownSecrets(page) {
  const panel = page.locator('section.once');
  await panel.waitFor();
  assert(await page.evaluate(() => document.activeElement && document.activeElement.closest('section.once') !== null),
    'focus moves to the shown-once panel');
  return panel.locator('code').allInnerTexts();
}

/** The row of the page's list that contains text. */
function row(page, text) {
  return page.locator('table.list tbody tr', { hasText: text });
}

/** Presses a row's two-step button: the action, then its "Yes". */
async function confirmInRow(page, text, action, yes = 'Yes') {
  const r = row(page, text);
  await r.getByRole('button', { name: action }).click();
  await r.getByRole('button', { name: yes }).click();
}

/** The page at 390 px: nothing scrolls sideways; and axe-core finds nothing serious. */
async function checkNarrowAndAxe(t, role, hash, prepare) {
  const page = await newPage(t, { bypassCSP: true, viewport: { width: WIDTH_PHONE, height: 844 } });
  await signIn(page, role);
  await open(page, hash);
  if (prepare) await prepare(page);
  await assertNoSideScroll(page);
  const bad = await axeViolations(page);
  assert(!bad.length, `axe at ${WIDTH_PHONE}px on ${hash}: ` + bad.join(' | '));
  return page;
}

/** Submits the form whose button is named `button` and returns its alert's text. */
async function refusal(page, button) {
  await page.getByRole('button', { name: button, exact: true }).click();
  const alert = page.locator('main form [role="alert"]').first();
  await alert.waitFor();
  return alert.innerText();
}

export const tests = [
  {
    name: 'codes_are_issued_shown_once_copied_filtered_and_revoked',
    async run(t) {
      const ctx = await newContext(t, CLIPBOARD);
      const page = await ctx.newPage();
      await signIn(page, 'operator');
      await open(page, '#/codes');
      await page.getByLabel('Profile').selectOption(config.profile_id);
      await page.getByLabel('How many codes').fill('2');
      await page.getByRole('button', { name: 'Issue' }).click();
      const codes = await shownSecrets(page);
      assert(codes.length === 2 && codes.every((c) => CODE.test(c)), 'two 16-digit codes shown: ' + codes);
      await screenshot(page, 'codes-issued');
      await page.locator('section.once').getByRole('button', { name: 'Copy 1' }).click();
      assert(await page.evaluate(() => navigator.clipboard.readText()) === codes[0], 'the copy button copies the code');
      // the list shows each code by its last four digits only
      await settle(page);
      const last4 = codes.map((c) => c.slice(-4));
      for (const l of last4) await row(page, '…' + l).first().waitFor();
      await confirmInRow(page, '…' + last4[0], 'Revoke …' + last4[0]);
      await until(async () => (await row(page, '…' + last4[0]).innerText()).includes('revoked'), 'the code to show revoked');
      // filters: the revoked code is under "Revoked", not under "Active"; the filter is in the address
      await page.getByLabel('State').selectOption('active');
      await settle(page);
      assert(await row(page, '…' + last4[0]).count() === 0, 'a revoked code is not listed as active');
      assert(await row(page, '…' + last4[1]).count() === 1, 'the other code is active');
      assert(page.url().endsWith('#/codes?state=active'), 'the filter is kept in the address: ' + page.url());
      await page.getByLabel('State').selectOption('revoked');
      await settle(page);
      assert(await row(page, '…' + last4[0]).count() === 1, 'the revoked code is listed under revoked');
      // the API agrees, and the codes are gone from the page once it is left
      const listed = await api('GET', '/v1/activation-codes?state=revoked');
      assert(listed.json.items.some((c) => c.last4 === last4[0]), 'the API has it revoked');
      await open(page, '#/overview');
      await open(page, '#/codes?state=active');
      const text = await page.locator('body').innerText();
      assert(!codes.some((c) => text.includes(c)), 'a code is never shown again');
      assert(await page.getByLabel('State').inputValue() === 'active', 'the address gives the filter');
    },
  },
  {
    name: 'codes_form_shows_the_api_errors_at_their_fields',
    async run(t) {
      const page = await signedInPage(t, 'operator');
      await open(page, '#/codes');
      await page.getByLabel('MAC address (optional)').fill('01:00:5e:00:00:01');
      await page.getByLabel('How many codes').fill('5000');
      await page.getByRole('button', { name: 'Issue' }).click();
      await page.waitForSelector('select[name="profile_id"][aria-invalid="true"]');
      for (const [name, want] of [['profile_id', /profile/], ['mac', /MAC/], ['count', /1 to 1000/]]) {
        const control = page.locator(`[name="${name}"]`);
        assert(await control.getAttribute('aria-invalid') === 'true', name + ' is marked invalid');
        const errId = (await control.getAttribute('aria-describedby')).split(' ').pop();
        const text = await page.locator('#' + errId).innerText();
        assert(want.test(text), `the API's error is at ${name}: "${text}"`);
      }
      assert(await page.evaluate(() => document.activeElement.name) === 'profile_id', 'the first wrong field has focus');
      await screenshot(page, 'codes-errors');
    },
  },
  {
    name: 'transfer_is_made_from_typed_macs_listed_and_cancelled',
    async run(t) {
      const macs = await claimDevices(2);
      const page = await signedInPage(t, 'operator');
      await open(page, '#/transfers');
      // two spellings, one a line
      await page.getByLabel('MAC addresses').fill(`${macs[0].match(/../g).join(':')}\n${macs[1].toUpperCase()}`);
      await page.getByLabel('Valid for').first().selectOption('86400');
      await page.getByRole('button', { name: 'Make transfer' }).click();
      const [code] = await shownSecrets(page);
      assert(CODE.test(code), 'a 16-digit transfer code: ' + code);
      assert((await page.locator('section.once h2').innerText()).includes('2 devices'), 'the panel says how many devices');
      await screenshot(page, 'transfers-made');
      const last4 = code.slice(-4);
      await settle(page);
      const r = row(page, '…' + last4);
      await r.waitFor();
      assert((await r.innerText()).includes('open'), 'the new transfer is open');
      await r.getByText('2 devices').click(); // the MACs behind a disclosure
      // fetched from the transfer itself when opened
      await until(async () => (await r.innerText()).includes(macs[0].match(/../g).join(':')), 'its MACs to be listed');
      await confirmInRow(page, '…' + last4, 'Cancel …' + last4, 'Yes, cancel it');
      await until(async () => (await row(page, '…' + last4).innerText()).includes('cancelled'), 'the transfer to show cancelled');
      // a cancelled code moves nothing
      const accepted = await otherApi('POST', '/v1/transfers/accept', { code });
      assert(accepted.status === 410, 'a cancelled transfer\'s code answers ' + accepted.status);
    },
  },
  {
    name: 'transfer_form_names_each_mac_that_is_not_yours',
    async run(t) {
      const [mine] = await claimDevices(1);
      const stranger = randomMac();
      const page = await signedInPage(t, 'operator');
      await open(page, '#/transfers');
      await page.getByLabel('MAC addresses').fill(`${mine}, ${stranger}, nonsense`);
      await page.getByRole('button', { name: 'Make transfer' }).click();
      const field = page.locator('textarea[name="macs"][aria-invalid="true"]');
      await field.waitFor();
      const errId = (await field.getAttribute('aria-describedby')).split(' ').pop();
      const text = await page.locator('#' + errId).innerText();
      assert(text.includes('entry 3 (nonsense)'), 'the malformed entry is named: ' + text);
      assert(!text.includes('entry 1'), 'the good MAC is not blamed: ' + text);
      assert(await page.locator('section.once').count() === 0, 'no code is shown');
      const fix = await page.evaluate(() => document.activeElement.name);
      assert(fix === 'macs', 'focus is on the field to fix');
      await page.getByLabel('MAC addresses').fill(`${mine}\n${stranger}`);
      await page.getByRole('button', { name: 'Make transfer' }).click();
      await until(async () => (await page.locator('#' + errId).innerText()).includes(`entry 2 (${stranger})`),
        'the MAC that is not the provider\'s to be named');
    },
  },
  {
    name: 'transfer_is_accepted_with_its_code_and_a_profile',
    async run(t) {
      const theirs = await claimDevices(2, otherApi);
      const made = await otherApi('POST', '/v1/transfers', { macs: theirs });
      assert(made.status === 201, 'the other provider made a transfer: ' + made.status);
      const page = await signedInPage(t, 'operator');
      await open(page, '#/transfers');
      const code = made.json.code;
      await page.getByLabel('Transfer code').fill(`${code.slice(0, 8)} ${code.slice(8)}`);
      await page.getByLabel('Profile for these devices').selectOption(config.profile_id);
      await page.getByRole('button', { name: 'Accept transfer' }).click();
      const ok = page.locator('main .msg-ok');
      await ok.waitFor();
      assert((await ok.innerText()).includes('2 devices moved to you'), 'says how many moved: ' + (await ok.innerText()));
      for (const mac of theirs) {
        const d = await api('GET', '/v1/devices/' + mac);
        assert(d.status === 200 && d.json.profile_id === config.profile_id, `${mac} is ours now, with the profile`);
      }
      // the same code again: the API's 410 is shown, at the top of the form
      await page.getByLabel('Transfer code').fill(code);
      await page.getByRole('button', { name: 'Accept transfer' }).click();
      const alert = page.locator('main form [role="alert"]');
      await alert.waitFor();
      assert(/used, cancelled or has expired/.test(await alert.innerText()), 'the 410 is shown: ' + (await alert.innerText()));
      // too short a code: the API's 400 at the code field
      await page.getByLabel('Transfer code').fill('1234');
      await page.getByRole('button', { name: 'Accept transfer' }).click();
      await page.waitForSelector('input[name="code"][aria-invalid="true"]');
    },
  },
  {
    name: 'webhook_is_registered_secret_shown_once_deliveries_listed_then_deleted',
    async run(t) {
      const received = [];
      const server = http.createServer((req, res) => {
        req.resume();
        req.on('end', () => { received.push(req.headers['webhook-id']); res.writeHead(204); res.end(); });
      });
      await new Promise((r) => server.listen(0, '127.0.0.1', r));
      t.cleanups.push(() => new Promise((r) => server.close(r)));
      const url = `http://127.0.0.1:${server.address().port}/hooks/${randomMac()}`;

      const page = await signedInPage(t, 'admin');
      await open(page, '#/webhooks');
      // first the API's errors: no event chosen, a URL that is no URL
      await page.getByLabel('Endpoint URL').fill('ftp://nowhere');
      await page.getByRole('button', { name: 'Register' }).click();
      await page.waitForSelector('input[name="url"][aria-invalid="true"]');
      await page.waitForSelector('fieldset.invalid input[aria-invalid="true"]');
      assert(/event/.test(await page.locator('fieldset .field-error').innerText()), 'the events error is at the events');
      await screenshot(page, 'webhooks-errors');

      await page.getByLabel('Endpoint URL').fill(url);
      await page.getByLabel(/A device was claimed/).check();
      await page.getByRole('button', { name: 'Register' }).click();
      const [secret] = await shownSecrets(page);
      assert(/^whsec_/.test(secret), 'the signing secret is shown: ' + secret.slice(0, 6));
      await screenshot(page, 'webhooks-registered');
      await settle(page);
      await row(page, url).waitFor();

      await claimDevices(1); // an event for it
      await until(() => received.length > 0, 'the receiver to get the event', 60000);
      await follow(page, row(page, url).getByRole('link', { name: 'Deliveries' }));
      assert(page.url().includes('#/webhooks/'), 'the deliveries page: ' + page.url());
      await until(async () => {
        await page.getByRole('button', { name: 'Refresh deliveries' }).click();
        await settle(page);
        return (await page.locator('table.list tbody').innerText()).includes('device.claimed');
      }, 'the delivery to be listed', 30000);
      const text = await page.locator('table.list tbody').innerText();
      assert(text.includes(received[0]) && text.includes('204'), 'the delivery shows its event id and HTTP status');
      await screenshot(page, 'webhook');

      await checkNarrowAndAxe(t, 'admin', await page.evaluate(() => location.hash),
        (narrow) => screenshot(narrow, 'webhook-phone'));

      await page.getByRole('button', { name: 'Delete this webhook' }).click();
      await follow(page, page.getByRole('button', { name: 'Yes' }));
      assert(await page.evaluate(() => location.hash) === '#/webhooks', 'back on the list of webhooks');
      assert(await row(page, url).count() === 0, 'the deleted webhook is gone from the list');
    },
  },
  {
    name: 'api_key_is_created_shown_once_and_revoked_by_keyboard_alone',
    async run(t) {
      const page = await signedInPage(t, 'admin');
      await open(page, '#/keys');
      const name = 'kb-' + randomMac().slice(-6);
      // keyboard alone: Tab to the name, type, Enter
      await until(async () => {
        await page.keyboard.press('Tab');
        return page.evaluate(() => document.activeElement.name === 'name');
      }, 'Tab to reach the name field');
      await page.keyboard.type(name);
      await page.keyboard.press('Enter');
      const [key] = await shownSecrets(page);
      assert((await fetch(config.origin + '/v1/profiles', { headers: { Authorization: 'Bearer ' + key } })).status === 200,
        'the shown key works');
      await settle(page);
      // Tab on to the row's Revoke, Enter; "Yes" has focus: Enter
      const label = `Revoke "${name}"`;
      await until(async () => {
        await page.keyboard.press('Tab');
        return page.evaluate((l) => document.activeElement.textContent === l, label);
      }, 'Tab to reach ' + label, 20000);
      await page.keyboard.press('Enter');
      assert(await page.evaluate(() => document.activeElement.textContent) === 'Yes', 'the question\'s Yes has focus');
      await page.keyboard.press('Escape'); // No, after all
      assert(await page.evaluate(() => document.activeElement.textContent) === label, 'Escape goes back to the button');
      await page.keyboard.press('Enter');
      await page.keyboard.press('Enter');
      await until(async () => (await row(page, name).innerText()).includes('revoked'), 'the key to show revoked');
      assert(await page.evaluate(() => document.activeElement.textContent) === 'Keys', 'focus stays in the list, on its heading');
      assert((await fetch(config.origin + '/v1/profiles', { headers: { Authorization: 'Bearer ' + key } })).status === 401,
        'a revoked key gets 401');
    },
  },
  {
    name: 'person_is_invited_with_a_role_link_shown_once_then_removed',
    async run(t) {
      const page = await signedInPage(t, 'admin');
      await open(page, '#/people');
      await page.getByLabel('Email').fill('not an email');
      await page.getByRole('button', { name: 'Invite', exact: true }).click();
      await page.waitForSelector('input[name="email"][aria-invalid="true"]');
      const email = `invitee-${randomMac().slice(-6)}@example.com`;
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Role').selectOption('operator');
      await page.getByRole('button', { name: 'Invite', exact: true }).click();
      const [link] = await shownSecrets(page);
      assert(link.startsWith(config.origin + '/console/invite#'), 'the invitation link is shown: ' + link.slice(0, 40));
      assert((await page.locator('section.once h2').innerText()).includes('as operator'), 'with the role');
      await screenshot(page, 'people-invited');
      await settle(page);
      const r = row(page, email);
      await r.waitFor();
      assert((await r.innerText()).includes('invited'), 'listed as invited');
      assert(await row(page, config.people.admin).locator('text=(you)').count() === 1, 'the person is marked as you');
      // the same email again: the API's 409 at the email field
      await page.getByLabel('Email').fill(email);
      await page.getByRole('button', { name: 'Invite', exact: true }).click();
      await page.waitForSelector('input[name="email"][aria-invalid="true"]');
      await confirmInRow(page, email, 'Remove ' + email);
      await until(async () => (await row(page, email).count()) === 0, 'the person to be gone');
      const people = await api('GET', '/v1/users');
      assert(!people.json.items.some((u) => u.email === email), 'the API has removed them');
    },
  },
  {
    name: 'audit_trail_pages_through_the_api_cursors',
    async run(t) {
      const have = async () => {
        let n = 0;
        let cursor;
        do {
          const r = await api('GET', '/v1/audit-events?limit=1000' + (cursor ? '&cursor=' + cursor : ''));
          n += r.json.items.length;
          cursor = r.json.next_cursor;
        } while (cursor);
        return n;
      };
      const n = await have();
      if (n <= 60) await claimDevices(61 - n);
      const page = await signedInPage(t, 'viewer');
      await open(page, '#/audit');
      const rows = page.locator('table.list tbody tr');
      assert(await rows.count() === 50, 'a page of 50');
      const first = await rows.first().innerText();
      assert(/\w\.\w/.test(first), 'entries name their action: ' + first);
      assert((await page.locator('table.list tbody').innerText()).includes('API key'), 'entries name who made them');
      const requests = [];
      page.on('request', (req) => { if (req.url().includes('/v1/audit-events')) requests.push(req.url()); });
      await page.getByRole('button', { name: 'Next page' }).click();
      await settle(page);
      assert(requests.some((u) => /cursor=[0-9a-f]{32}(&|$)/.test(u)), 'the next page is asked for with the API\'s cursor');
      assert(await rows.first().innerText() !== first, 'the next page shows other entries');
      assert((await page.locator('.pager-status').innerText()).includes('Page 2'), 'page 2 is announced');
      await page.getByRole('button', { name: 'Previous page' }).click();
      await settle(page);
      assert(await rows.first().innerText() === first, 'Previous returns to the first page');
      await screenshot(page, 'audit');
    },
  },
  {
    name: 'viewer_is_refused_every_change_with_the_api_403_shown',
    async run(t) {
      const page = await signedInPage(t, 'viewer');
      const needs = (role) => new RegExp(`needs the ${role} role`);
      await open(page, '#/codes');
      assert((await page.locator('main').innerText()).includes('Your role (viewer) lets you look'), 'the page says so beforehand');
      await page.getByLabel('Profile').selectOption(config.profile_id);
      assert(needs('operator').test(await refusal(page, 'Issue')), 'codes: the 403 is shown');
      await screenshot(page, 'codes-viewer-refused');
      await open(page, '#/transfers');
      await page.getByLabel('MAC addresses').fill(config.macs[5]);
      assert(needs('operator').test(await refusal(page, 'Make transfer')), 'transfers: the 403 is shown');
      await page.getByLabel('Transfer code').fill('1234567890123456');
      await page.getByRole('button', { name: 'Accept transfer' }).click();
      await page.locator('main form [role="alert"]').nth(1).waitFor();
      assert(needs('operator').test(await page.locator('main form [role="alert"]').nth(1).innerText()), 'accepting: the 403');
      await open(page, '#/webhooks');
      await page.getByLabel('Endpoint URL').fill('https://hooks.example.net/x');
      await page.getByLabel(/A device was claimed/).check();
      assert(needs('admin').test(await refusal(page, 'Register')), 'webhooks: the 403 is shown');
      await open(page, '#/keys');
      await page.getByLabel('Name').fill('not allowed');
      assert(needs('admin').test(await refusal(page, 'Create key')), 'keys: the 403 is shown');
      // a change from a list's row: the 403 is shown in that row
      const k = (await api('GET', '/v1/api-keys')).json.items.find((x) => !x.revoked_at);
      await confirmInRow(page, k.id, `Revoke "${k.name}"`);
      const rowAlert = row(page, k.id).locator('[role="alert"]');
      await rowAlert.waitFor();
      assert(needs('admin').test(await rowAlert.innerText()), 'a row\'s refusal is shown in the row');
      await open(page, '#/people');
      await page.getByLabel('Email').fill('someone@example.com');
      assert(needs('admin').test(await refusal(page, 'Invite')), 'people: the 403 is shown');
      const still = await api('GET', '/v1/api-keys');
      assert(still.json.items.some((x) => x.id === k.id && !x.revoked_at), 'nothing was changed');
    },
  },
  {
    name: 'axe_and_390px_hold_with_secrets_shown_errors_and_questions_open',
    async run(t) {
      // the states the plain page checks never see: a shown-once panel, the
      // API's errors at fields, a row's question
      await checkNarrowAndAxe(t, 'operator', '#/codes', async (page) => {
        await page.getByLabel('Profile').selectOption(config.profile_id);
        await page.getByRole('button', { name: 'Issue', exact: true }).click();
        await page.locator('section.once').waitFor();
        await settle(page);
        // the list is oldest first: the first row that can still be revoked
        await page.getByRole('button', { name: /^Revoke/ }).first().click();
        await screenshot(page, 'codes-issued-phone');
      });
      await checkNarrowAndAxe(t, 'operator', '#/transfers', async (page) => {
        await page.getByLabel('MAC addresses').fill('nonsense');
        await page.getByRole('button', { name: 'Make transfer' }).click();
        await page.waitForSelector('textarea[aria-invalid="true"]');
      });
      await checkNarrowAndAxe(t, 'admin', '#/webhooks', async (page) => {
        await page.getByLabel('Endpoint URL').fill('ftp://nowhere');
        await page.getByRole('button', { name: 'Register' }).click();
        await page.waitForSelector('fieldset.invalid');
        await screenshot(page, 'webhooks-errors-phone');
      });
      await checkNarrowAndAxe(t, 'admin', '#/keys', async (page) => {
        await page.getByLabel('Name').fill('axe-' + randomMac().slice(-6));
        await page.getByRole('button', { name: 'Create key' }).click();
        await page.locator('section.once').waitFor();
        await settle(page);
        await screenshot(page, 'keys-created-phone');
      });
      await checkNarrowAndAxe(t, 'admin', '#/people', async (page) => {
        await page.getByLabel('Email').fill(`axe-${randomMac().slice(-6)}@example.com`);
        await page.getByRole('button', { name: 'Invite', exact: true }).click();
        await page.locator('section.once').waitFor();
        await settle(page);
        await screenshot(page, 'people-invited-phone');
      });
    },
  },
];
