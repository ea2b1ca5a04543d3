// The checks every page of pages.mjs must pass, two tests per page:
//   page_<name>: under the real CSP at 390 px: no page or console error, no
//     request to another origin, no sideways scrolling, the main control
//     reachable with Tab; screenshots <name>-phone.png and <name>.png (1280 px)
//   axe_<name>: axe-core finds no serious or critical violation (in a
//     context that bypasses CSP, since axe is injected as a script)
import { PAGES } from '../pages.mjs';
import {
  config, newPage, signedInPage, open, assertNoSideScroll, assertTabReaches, screenshot, axeViolations,
  WIDTH_PHONE, WIDTH_DESKTOP,
} from '../lib.mjs';

async function arrive(t, p, opts) {
  const page = p.role ? await signedInPage(t, p.role, opts) : await newPage(t, opts);
  await open(page, p.hash(config));
  return page;
}

export const tests = PAGES.flatMap((p) => [
  {
    name: 'page_' + p.name.replace(/-/g, '_'),
    async run(t) {
      const page = await arrive(t, p, { viewport: { width: WIDTH_PHONE, height: 844 } });
      await assertNoSideScroll(page);
      await assertTabReaches(page, p.control.startsWith('nav') ? '#menu-toggle' : p.control);
      await screenshot(page, p.name + '-phone');
      await page.setViewportSize({ width: WIDTH_DESKTOP, height: 900 });
      await assertTabReaches(page, p.control);
      await screenshot(page, p.name);
    },
  },
  {
    name: 'axe_' + p.name.replace(/-/g, '_'),
    async run(t) {
      const page = await arrive(t, p, { bypassCSP: true, viewport: { width: WIDTH_PHONE, height: 900 } });
      for (const width of [WIDTH_PHONE, WIDTH_DESKTOP]) {
        await page.setViewportSize({ width, height: 900 });
        const bad = await axeViolations(page);
        if (bad.length) throw new Error(`at ${width}px: ` + bad.join(' | '));
      }
    },
  },
]);
