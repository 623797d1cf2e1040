// End-to-end browser test of the eTA (the phone app at /eta) in real
// headless Chromium, on a phone-sized viewport (390x844).
//
// Builds a fresh demo database in a temp dir (the demo traveller's phone last
// reported in Kabul, AF-KAB, and an alert for Kabul reached it), serves it on
// a free loopback port, and drives Debian's Chromium with playwright-core:
//   - the demo traveller signs in and opens /eta: her area (Kabul) with its
//     level and advisory, the demo alert, no horizontal scroll at 390x844;
//   - the security adviser issues an alert for Kabul through the API (bearer
//     token with TOTP): it appears on the open page without reloading, unread,
//     and is marked read in place;
//   - "I am safe": the answer shows at once;
//   - she enrols this phone with her TOTP code (the OwnTracks settings show
//     once), agrees to share her area, and the phone (its position set to
//     Herat) reports: the area shown becomes Herat;
//   - the service worker keeps the page: offline, /eta still opens;
//   - the alert's page and her location data fit the phone too;
//   - the page in Arabic, right to left, still without horizontal scroll;
//   - the Designated Official authorises tracking for Kabul on /tracking.
// Screenshots go to $WARDEN_SCREENSHOT_DIR (or a new temp dir); their paths
// are printed.
//
// Environment: WARDEN_BIN (path to the warden binary; default
// target/release/warden of this repository), CHROMIUM (default
// /usr/bin/chromium), WARDEN_SCREENSHOT_DIR.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { PASSWORD, overflow, startWarden } from './harness.mjs';

let h; // the service and the browser (harness.mjs)
let base; // http://127.0.0.1:PORT
const totpCode = (user) => h.totpCode(user);
const shot = (page, name) => h.shot(page, name);
const newPage = (options) => h.newPage(options);

/** Herat city: where the phone "is" when it shares its position. */
const HERAT = { latitude: 34.3482, longitude: 62.1997, accuracy: 30 };
const PHONE = {
  viewport: { width: 390, height: 844 },
  isMobile: true,
  hasTouch: true,
  geolocation: HERAT,
  permissions: ['geolocation'],
};

async function assertFitsPhone(page, label) {
  const m = await overflow(page);
  console.log(`${label} layout: ${JSON.stringify(m)}`);
  assert.equal(m.inner, 390, 'the phone viewport');
  assert.ok(m.scroll <= m.width, `${label}: no horizontal scroll (scrollWidth ${m.scroll} > ${m.width})`);
  assert.deepEqual(m.over, [], `${label}: nothing sticks out`);
}

/** A bearer token through the API (password and the current TOTP code). */
async function apiToken(user) {
  const res = await fetch(`${base}/api/v1/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: user, password: PASSWORD, totp: await totpCode(user) }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.token;
}

before(async () => {
  h = await startWarden('warden-browser-eta-');
  base = h.base;
});

after(async () => {
  if (h) await h.stop();
});

describe('the eTA in headless Chromium', () => {
  test('the traveller on her phone: area, live alert, I am safe, enrolment and sharing, offline, Arabic', async () => {
    const { context, page } = await newPage(PHONE);
    try {
      await h.login(page, 'traveller');
      await Promise.all([page.waitForURL((u) => u.pathname === '/eta'), page.click('nav.topnav a[href="/eta"]')]);
      assert.equal(await page.locator('nav.topnav a[href="/tracking"]').count(), 0, 'no tracking oversight for a traveller');

      // Her area (the demo phone's last report), its level and advisory.
      assert.equal(await page.getAttribute('#my-area', 'data-area'), 'AF-KAB');
      assert.equal((await page.locator('#area-name').innerText()).trim(), 'Kabul');
      const level = await page.getAttribute('#area-level', 'data-level');
      assert.match(level, /^[1-6]$/, 'Kabul has a level');
      assert.match(await page.getAttribute('#area-level', 'class'), new RegExp(`level-${level}`), 'in its colour');
      assert.ok((await page.locator('#advisory-text').innerText()).trim().length > 10, 'the advisory text');
      assert.equal(await page.getAttribute('#area-fresh', 'data-fresh'), 'true');
      // The demo alert, unread.
      const demo = page.locator('#alert-list li.unread', { hasText: 'Pashtunistan Square' });
      assert.equal(await demo.count(), 1, 'the demo alert is listed, unread');
      await assertFitsPhone(page, '/eta');
      await shot(page, 'eta-phone');

      // An alert issued through the API appears without reloading.
      const marker = await page.evaluate(() => {
        window.__noReload = Math.random().toString(36).slice(2);
        return window.__noReload;
      });
      const unreadBefore = Number(await page.getAttribute('#alerts-unread', 'data-count'));
      const sa = await apiToken('sa.afghanistan');
      const headline = `Roadblocks on the airport road (${marker})`;
      const issued = await fetch(`${base}/api/v1/areas/AF-KAB/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${sa}` },
        body: JSON.stringify({
          headline,
          severity: 'severe',
          instruction: 'Do not travel to the airport until further notice; flights are disrupted.',
        }),
      });
      const alert = await issued.json();
      assert.equal(issued.status, 201, JSON.stringify(alert));
      assert.ok(alert.recipients >= 1, 'her phone is in Kabul: she is a recipient');
      const started = Date.now();
      const fresh = page.locator('#alert-list li.unread', { hasText: headline });
      await fresh.waitFor({ timeout: 45_000 });
      console.log(`the alert appeared after ${Math.round((Date.now() - started) / 1000)} s`);
      assert.equal(await page.evaluate(() => window.__noReload), marker, 'the page was not reloaded');
      assert.equal(await page.locator('#alert-list li').first().locator('a').getAttribute('href'), `/alerts/${alert.id}`, 'newest first, linking to the alert');
      assert.equal(Number(await page.getAttribute('#alerts-unread', 'data-count')), unreadBefore + 1);
      await fresh.scrollIntoViewIfNeeded();
      await shot(page, 'eta-alert-arrived');
      await fresh.locator('[data-mark-read]').click();
      await page.locator('#alert-list li.unread', { hasText: headline }).waitFor({ state: 'detached' });
      assert.equal(Number(await page.getAttribute('#alerts-unread', 'data-count')), unreadBefore);

      // "I am safe": the answer shows at once.
      assert.equal(await page.locator('#wellbeing-none').count(), 1, 'no answer yet');
      await page.click('#i-am-safe');
      await page.locator('#wellbeing-status[data-status="safe"]').waitFor();
      assert.equal(await page.evaluate(() => window.__noReload), marker, 'answered in place');
      await page.locator('#wellbeing').scrollIntoViewIfNeeded();
      await shot(page, 'eta-safe');

      // Enrol this phone (TOTP), agree to share, and the area follows the phone.
      await page.fill('#enrol-totp', await totpCode('traveller'));
      await page.click('#enrol');
      await page.locator('#device-enrolled').waitFor();
      assert.ok(await page.locator('#owntracks').isVisible(), 'the OwnTracks settings, once');
      const token = (await page.locator('#owntracks-token').innerText()).trim();
      assert.ok(token.length >= 20, 'the device token is shown once');
      assert.equal(await page.getAttribute('#sharing-status', 'data-sharing'), 'off', 'nothing is sent before consent');
      await assertFitsPhone(page, '/eta enrolled');
      await page.locator('#this-phone').scrollIntoViewIfNeeded();
      await shot(page, 'eta-enrolled');
      await page.click('#share-start');
      await page.locator('#my-area[data-area="AF-HER"]').waitFor({ timeout: 30_000 });
      assert.match(await page.locator('#share-result').innerText(), /Her[aā]t/);
      assert.equal(await page.getAttribute('#sharing-status', 'data-sharing'), 'on');
      assert.match(await page.locator('#area-name').innerText(), /Her[aā]t/);
      await shot(page, 'eta-sharing-herat');
      await page.click('#share-stop');
      assert.equal(await page.getAttribute('#sharing-status', 'data-sharing'), 'off');
      // A reload does not show the token again.
      await page.reload();
      assert.equal(await page.locator(`text=${token}`).count(), 0, 'the token is not in the page any more');
      assert.equal(await page.getAttribute('#my-area', 'data-area'), 'AF-HER');
      assert.ok(await page.locator('#device-enrolled').isVisible(), 'the phone is still enrolled in this browser');

      // Installable: the manifest, and the service worker keeps the page for offline use.
      const manifest = await page.evaluate(async () => (await fetch('/eta/manifest.webmanifest')).json());
      assert.equal(manifest.start_url, '/eta');
      const scope = await page.evaluate(async () => {
        const reg = await Promise.race([
          navigator.serviceWorker.ready,
          new Promise((_, fail) => setTimeout(() => fail(new Error('no service worker')), 15_000)),
        ]);
        return new URL(reg.scope).pathname;
      });
      assert.equal(scope, '/eta');
      await page.reload(); // now under the worker's control: this copy is kept
      await page.waitForFunction(async () => !!(await caches.match('/eta')), null, { timeout: 15_000 });
      await context.setOffline(true);
      await page.reload();
      assert.equal(await page.getAttribute('#my-area', 'data-area'), 'AF-HER', 'the saved page opens offline');
      await page.locator('#eta-offline').waitFor();
      await shot(page, 'eta-offline');
      await context.setOffline(false);

      // The alert's own page, and what is held about her, on the phone.
      await page.goto(`${base}/alerts/${alert.id}`);
      assert.equal((await page.locator('#alert-headline').innerText()).trim(), headline);
      assert.equal(await page.getAttribute('#alert-severity', 'data-severity'), 'severe');
      assert.equal(await page.getAttribute('#alert-cap', 'href'), `/api/v1/alerts/${alert.id}/cap`);
      await assertFitsPhone(page, '/alerts/{id}');
      await shot(page, 'alert-page');
      await page.goto(`${base}/eta`);
      await Promise.all([page.waitForURL((u) => u.pathname === '/me/location-data'), page.click('#my-data-link')]);
      assert.match(await page.locator('#held-area').innerText(), /Her[aā]t/);
      await assertFitsPhone(page, '/me/location-data');
      await shot(page, 'location-data');

      // In Arabic, right to left, still fitting the phone.
      await page.goto(`${base}/lang/ar`);
      await page.goto(`${base}/eta`);
      assert.equal(await page.locator('html').getAttribute('dir'), 'rtl');
      assert.equal((await page.locator('#i-am-safe').innerText()).trim(), 'أنا بأمان');
      await assertFitsPhone(page, '/eta in Arabic');
      await shot(page, 'eta-arabic');
    } finally {
      await context.close();
    }
  });

  test('the Designated Official authorises tracking for Kabul', async () => {
    const { context, page } = await newPage();
    try {
      await h.login(page, 'do.afghanistan', { totp: true });
      await Promise.all([page.waitForURL((u) => u.pathname === '/tracking'), page.click('nav.topnav a[href="/tracking"]')]);
      await page.selectOption('#area', 'AF-KAB');
      await page.fill('#reason', 'Armed clashes around the airport road: locate staff for the relocation.');
      await shot(page, 'tracking-form');
      await Promise.all([
        page.waitForURL((u) => u.pathname === '/tracking' && u.searchParams.get('done') === 'authorised'),
        page.click('#authorise-submit'),
      ]);
      const item = page.locator('.tracking-item[data-state="active"]', { hasText: 'Armed clashes around the airport road' });
      await item.waitFor();
      assert.equal(await item.locator('form[action$="/end"]').count(), 1, 'the DO may end it');
      await shot(page, 'tracking-authorised');
    } finally {
      await context.close();
    }
  });
});
