// Signing in and out, invitations, the session's end.
import { config, newPage, signIn, signedInPage, open, follow, settle, assert, screenshot } from '../lib.mjs';

export const tests = [
  {
    name: 'signin_with_a_wrong_password_shows_the_refusal',
    async run(t) {
      const page = await newPage(t);
      await open(page, '#/signin');
      await page.getByLabel('Email').fill(config.people.viewer);
      await page.getByLabel('Password').fill('not the password at all');
      await page.getByRole('button', { name: 'Sign in' }).click();
      const alert = page.locator('main [role="alert"]');
      await alert.waitFor();
      assert(/password|sign/i.test(await alert.innerText()), 'the refusal says what failed: ' + (await alert.innerText()));
      assert(await page.locator('#signout').count() === 0, 'not signed in');
    },
  },
  {
    name: 'signin_then_signout_ends_the_session',
    async run(t) {
      const page = await newPage(t); // its own session, since it ends it
      await signIn(page, 'operator');
      assert((await page.locator('#who').innerText()).includes(config.people.operator), 'the person is named');
      assert((await page.locator('main h1').innerText()) === 'Overview', 'lands on the overview');
      await page.locator('#signout').click();
      await page.waitForSelector('input[name="email"]');
      // the cookie is gone: /v1 answers 401 in this browser
      const status = await page.evaluate(async () => (await fetch('/v1/sessions/current')).status);
      assert(status === 401, 'after sign-out /v1/sessions/current answers ' + status);
      await open(page, '#/devices');
      assert(await page.locator('input[name="password"]').count() === 1, 'a signed-out browser is asked to sign in');
    },
  },
  {
    name: 'signed_out_address_asks_to_sign_in_then_returns_there',
    async run(t) {
      const page = await newPage(t);
      await open(page, '#/profiles');
      await page.waitForSelector('input[name="email"]');
      await signIn(page, 'viewer', await page.evaluate(() => location.hash));
      await page.waitForFunction(() => location.hash === '#/profiles');
      await settle(page);
      assert((await page.locator('main h1').innerText()) === 'Profiles', 'back on the page asked for');
    },
  },
  {
    name: 'expired_session_shows_the_sign_in_page',
    async run(t) {
      const page = await signedInPage(t, 'viewer');
      await open(page, '#/devices');
      await page.context().clearCookies(); // as when the session ends on the server
      await page.goto(config.base + '#/overview'); // a page that calls /v1: the 401 leads to sign-in
      await page.waitForSelector('input[name="email"]', { timeout: 20000 });
      assert((await page.locator('main h1').innerText()) === 'Sign in', 'the sign-in page is shown');
    },
  },
  {
    name: 'invitation_sets_a_password_with_rules_shown_at_the_field',
    async run(t) {
      const page = await newPage(t);
      await page.goto(config.origin + '/console/invite#' + config.invite_token);
      await settle(page);
      assert(!(await page.evaluate(() => location.href)).includes(config.invite_token), 'the token leaves the address bar');
      const pw = page.getByLabel('New password');
      assert((await page.locator('.hint').first().innerText()).includes('12'), 'the rule is shown at the field');
      await pw.fill('short');
      await page.getByLabel('The same password again').fill('short');
      await page.getByRole('button', { name: 'Choose this password' }).click();
      await page.waitForSelector('input[name="password"][aria-invalid="true"]');
      const err = await page.locator('.field-error').first().innerText();
      assert(/12/.test(err), 'the API\'s error is shown at the password: ' + err);
      await screenshot(page, 'invite-error');
      const good = 'a long enough console password';
      await pw.fill(good);
      await page.getByLabel('The same password again').fill(good);
      await page.getByRole('button', { name: 'Choose this password' }).click();
      await page.getByRole('heading', { name: 'Your password is set' }).waitFor();
      // the used token is forgotten: the invitation page no longer offers the form
      await page.getByRole('link', { name: 'Sign in' }).click();
      await page.getByLabel('Email').waitFor();
      // (the sign-in page says "Open the invitation link" too: wait for the invitation page itself)
      await follow(page, () => page.evaluate(() => { location.hash = '#/invite'; }));
      await page.getByText('Open the invitation link').waitFor();
      assert(await page.getByLabel('New password').count() === 0, 'a used invitation offers no form again');
      await follow(page, () => page.evaluate(() => { location.hash = '#/signin'; }));
      await page.getByLabel('Email').fill(config.invite_email);
      await page.getByLabel('Password').fill(good);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForSelector('#signout');
      assert((await page.locator('#who').innerText()).includes('operator'), 'signed in with the invited role');
    },
  },
  {
    name: 'odd_addresses_take_the_invite_token_or_say_not_found',
    async run(t) {
      const page = await newPage(t);
      // the invitation link with a trailing slash is served too, and read the same way
      await page.goto(config.origin + '/console/invite/#not-a-real-token');
      await settle(page);
      assert(!(await page.evaluate(() => location.href)).includes('not-a-real-token'), 'the token leaves the address bar');
      await page.getByLabel('New password').waitFor();
      // a malformed escape in the address names no page (it used to leave the old page standing)
      await page.evaluate(() => { location.hash = '#/devices/%E0%A4%A'; });
      await page.getByRole('heading', { name: 'Not found' }).waitFor();
    },
  },
  {
    name: 'phone_menu_opens_by_keyboard_and_leads_to_a_page',
    async run(t) {
      const page = await signedInPage(t, 'viewer', { viewport: { width: 390, height: 844 } });
      const toggle = page.locator('#menu-toggle');
      assert(!(await page.locator('nav a[href="#/profiles"]').isVisible()), 'the menu starts closed on a phone');
      await toggle.focus();
      await page.keyboard.press('Enter');
      assert((await toggle.getAttribute('aria-expanded')) === 'true', 'aria-expanded says open');
      await page.keyboard.press('Tab');
      await page.keyboard.press('Escape');
      assert(!(await page.locator('nav a[href="#/profiles"]').isVisible()), 'Escape closes it');
      assert(await toggle.evaluate((b) => b === document.activeElement), 'focus returns to the button');
      await page.keyboard.press('Enter');
      await page.locator('nav a[href="#/profiles"]').focus();
      await follow(page, () => page.keyboard.press('Enter'));
      assert(!(await page.locator('nav a[href="#/profiles"]').isVisible()), 'the menu closes after choosing');
      assert((await page.locator('main h1').innerText()) === 'Profiles', 'the page is shown');
    },
  },
];
