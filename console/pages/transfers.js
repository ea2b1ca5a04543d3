// Placeholder: this page is not built yet.
import { h, pageTitle } from '../ui.js';

/** @param {HTMLElement} root  @param {object} ctx (see console/README.md) */
export function render(root, ctx) {
  ctx.title('Transfers');
  root.append(pageTitle('Transfers'), h('p', null, 'This page is not built yet.'));
}
