// Accepting an invitation: the person chooses a password
// (POST /v1/invites/accept), then signs in with it.
import { post } from '../api.js';
import { h, form, pageTitle } from '../ui.js';

const MIN_PASSWORD = 12; // contract section 8: at least 12 characters

/** @param {HTMLElement} root  @param {object} ctx (see console/README.md) */
export function render(root, ctx) {
  ctx.title('Accept your invitation');
  const card = h('section', { class: 'narrow card' }, pageTitle('Accept your invitation'));
  root.append(card);
  // taken once: after this page (used or left) the console forgets it
  const token = ctx.takeInviteToken();
  if (!token) {
    card.append(h('p', null, 'Open the invitation link from your message: it carries the invitation. ',
      h('a', { href: '#/signin' }, 'Sign in'), ' if you already chose a password.'));
    return;
  }
  const f = form({
    submit: 'Choose this password',
    fields: [
      {
        name: 'password', label: 'New password', type: 'password', required: true, autocomplete: 'new-password',
        minlength: MIN_PASSWORD, hint: `At least ${MIN_PASSWORD} characters. A few unrelated words make a good one.`,
      },
      { name: 'confirm', label: 'The same password again', type: 'password', required: true, autocomplete: 'new-password' },
    ],
    async onSubmit(v, self) {
      if (v.password !== v.confirm) {
        const e = new Error('The two passwords differ.');
        e.errors = [{ field: 'confirm', detail: 'differs from the new password' }];
        throw e;
      }
      await post('/v1/invites/accept', { token, password: v.password });
      card.replaceChildren(pageTitle('Your password is set'),
        h('p', { role: 'status' }, 'You can now sign in with your email and this password.'),
        h('p', null, h('a', { class: 'button', href: '#/signin' }, 'Sign in')));
      card.querySelector('h1').focus();
    },
  });
  card.append(h('p', null, 'Choose the password you will sign in with.'), f.el);
}
