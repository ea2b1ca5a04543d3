// Every page of the console, for the checks each one must pass
// (tests/pages.mjs): no errors, no other origin, no sideways scrolling at
// 390 px, its main control reachable with Tab, axe-core clean, screenshots.
//   name: the screenshot's name; hash(config): where it is; role: who looks;
//   control: a selector of the page's main control (for the keyboard check).
export const PAGES = [
  { name: 'signin', hash: () => '#/signin', role: null, control: 'input[name="email"]' },
  { name: 'invite', hash: () => '#/invite', role: null, control: "main a" },
  { name: 'overview', hash: () => '#/overview', role: 'admin', control: 'main a[href="#/devices"]' },
  { name: 'devices', hash: () => '#/devices', role: 'admin', control: 'main input[name="q"]' },
  { name: 'device', hash: (c) => '#/devices/' + c.macs[0], role: 'admin', control: 'main select[name="status"]' },
  { name: 'profiles', hash: () => '#/profiles', role: 'admin', control: 'main a[href="#/profiles/new"]' },
  { name: 'profile', hash: (c) => '#/profiles/' + c.profile_id, role: 'admin', control: 'main input[name="name"]' },
  { name: 'profile-new', hash: () => '#/profiles/new', role: 'admin', control: 'main input[name="name"]' },
  { name: 'imports', hash: () => '#/imports', role: 'operator', control: 'main input[type="file"]' },
  { name: 'codes', hash: () => '#/codes', role: 'admin', control: 'select[name="profile_id"]' },
  { name: 'transfers', hash: () => '#/transfers', role: 'admin', control: 'textarea[name="macs"]' },
  { name: 'webhooks', hash: () => '#/webhooks', role: 'admin', control: 'input[name="url"]' },
  { name: 'keys', hash: () => '#/keys', role: 'admin', control: 'input[name="name"]' },
  { name: 'people', hash: () => '#/people', role: 'admin', control: 'input[name="email"]' },
  { name: 'audit', hash: () => '#/audit', role: 'admin', control: '#signout' },
];
