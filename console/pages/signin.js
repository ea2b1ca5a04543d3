// Sign-in: email and password give a session cookie (POST /v1/sessions).
import { post } from '../api.js';
import { h, form, pageTitle } from '../ui.js';

/** @param {HTMLElement} root  @param {object} ctx (see console/README.md) */
export function render(root, ctx) {
  ctx.title('Sign in');
  const f = form({
    submit: 'Sign in',
    fields: [
      { name: 'email', label: 'Email', type: 'email', required: true, autocomplete: 'username' },
      { name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'current-password' },
    ],
    async onSubmit(v) {
      await post('/v1/sessions', { email: v.email.trim(), password: v.password });
      await ctx.signedIn(ctx.query.get('next'));
    },
  });
  root.append(h('section', { class: 'narrow card' }, pageTitle('Sign in'), f.el,
    h('p', { class: 'muted' }, 'New here? Open the invitation link you were sent to choose a password.')));
}
