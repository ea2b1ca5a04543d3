// Another site, or another origin of the same site, cannot change anything
// through a signed-in browser.
import http from 'node:http';
import { config, signedInPage, assert, api, until } from '../lib.mjs';

// A page from another site (127.0.0.2 is another site than 127.0.0.1) that
// tries every way a page can send a change with the browser's cookies.
function evilPage(origin, mac) {
  return `<!doctype html><html><body>
<iframe name="sink1"></iframe><iframe name="sink2"></iframe>
<form id="f1" method="POST" action="${origin}/v1/profiles" enctype="text/plain" target="sink1">
<input name='{"name":"evil","profile_rule":"https://evil.example/","x":"' value='"}'></form>
<form id="f2" method="POST" action="${origin}/v1/devices/${mac}/status" target="sink2"><input name="status" value="aborted"></form>
<script>
(async () => {
  const tries = [
    fetch('${origin}/v1/profiles', {method: 'POST', mode: 'no-cors', credentials: 'include',
      headers: {'Content-Type': 'text/plain'}, body: JSON.stringify({name: 'evil', profile_rule: 'https://evil.example/'})}),
    fetch('${origin}/v1/devices/${mac}/status', {method: 'POST', credentials: 'include',
      headers: {'Content-Type': 'application/json', 'X-ZTP-Console': '1'}, body: '{"status":"aborted"}'}),
    fetch('${origin}/v1/devices/${mac}', {method: 'DELETE', credentials: 'include', mode: 'cors'}),
    fetch('${origin}/v1/users', {method: 'POST', mode: 'no-cors', credentials: 'include',
      headers: {'Content-Type': 'text/plain'}, body: '{"email":"evil@example.com","role":"admin"}'}),
  ];
  await Promise.allSettled(tries);
  // each form into a frame of its own: a second navigation of one frame
  // would cancel the first form's request
  document.getElementById('f1').submit();
  document.getElementById('f2').submit();
  document.title = 'done';
})();
</script></body></html>`;
}

// 127.0.0.2 is another site: the SameSite=Strict cookie stays home. Another
// port of 127.0.0.1 is the same site but another origin: the cookie goes
// along, and ztpd's X-ZTP-Console/Origin check must refuse the change.
const attacker = (name, host, defence) => ({
    name,
    async run(t) {
      t.allowForeign = true; // this test opens the other site on purpose
      const mac = config.macs[20];
      const before = (await api('GET', '/v1/devices/' + mac)).json;
      const users = (await api('GET', '/v1/users')).json.items.length;
      const server = http.createServer((req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end(evilPage(config.origin, mac));
      });
      await new Promise((r) => server.listen(0, host, r));
      t.cleanups.push(() => new Promise((r) => server.close(r)));
      const page = await signedInPage(t, 'admin');
      const answers = []; // "METHOD /path status"
      const evil = await page.context().newPage();
      evil.on('response', (r) => {
        if (r.url().startsWith(config.origin + '/v1/'))
          answers.push(`${r.request().method()} ${new URL(r.url()).pathname} ${r.status()}`);
      });
      await evil.goto(`http://${host}:${server.address().port}/`);
      await evil.waitForFunction(() => document.title === 'done', null, { timeout: 20000 });
      // the requests a browser lets through without a preflight: the JSON
      // smuggled as text/plain by fetch and by a form, the form's status
      // change, the invitation; each must have reached ztpd and been answered
      const arrived = (what, n = 1) => answers.filter((a) => a.startsWith(what + ' ')).length >= n;
      await until(() => arrived('POST /v1/profiles', 2) && arrived(`POST /v1/devices/${mac}/status`) &&
        arrived('POST /v1/users'), 'every one of the other site\'s requests to be answered');
      const after = (await api('GET', '/v1/devices/' + mac)).json;
      assert(after.status === before.status, `the device's status stayed ${before.status}, now ${after.status}`);
      const profiles = (await api('GET', '/v1/profiles')).json.items.map((p) => p.name);
      assert(!profiles.includes('evil'), 'no profile was created');
      assert((await api('GET', '/v1/users')).json.items.length === users, 'no one was invited');
      const codes = answers.map((a) => Number(a.split(' ')[2]));
      assert(codes.every((s) => s >= 400), 'every request from the other site was refused: ' + answers.join(', '));
      // which defence held: no cookie at all (401), or the cookie refused without X-ZTP-Console (403)
      assert(codes.includes(defence), `some answer is ${defence}: ${answers.join(', ')}`);
      // and the console itself, same browser, still works
      const status = await page.evaluate(async () => (await fetch('/v1/sessions/current')).status);
      assert(status === 200, 'the person is still signed in');
    },
});

export const tests = [
  attacker('cross_site_page_changes_nothing', '127.0.0.2', 401),
  attacker('same_site_page_of_another_origin_changes_nothing', '127.0.0.1', 403),
];
