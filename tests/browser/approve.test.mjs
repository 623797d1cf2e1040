// End-to-end browser test of Warden's web interface in real headless Chromium.
//
// Builds a fresh demo database in a temp dir, serves it on a free loopback
// port, and drives Debian's Chromium with playwright-core:
//   - a wrong TOTP code is refused and the user stays on the TOTP page;
//   - the Designated Official for Afghanistan logs in (password + TOTP),
//     opens the first "waiting for you" assessment and approves it, and the
//     new level shows on the area page and in the JSON API;
//   - the regional desk validates the submitted Afghan assessment;
//   - the Arabic interface is right-to-left, and the country map draws.
// Screenshots go to $WARDEN_SCREENSHOT_DIR (or a new temp dir); their paths
// are printed.
//
// Environment: WARDEN_BIN (path to the warden binary; default
// target/release/warden of this repository), CHROMIUM (default
// /usr/bin/chromium), WARDEN_SCREENSHOT_DIR.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { PASSWORD, startWarden } from './harness.mjs';

let h; // the service and the browser (harness.mjs)
let base; // http://127.0.0.1:PORT
const totpCode = (user) => h.totpCode(user);
const shot = (page, name) => h.shot(page, name);
const newPage = (options) => h.newPage(options);

/** Password step; leaves the page on /login/totp. */
async function passwordStep(page, user) {
  await page.goto(`${base}/login`);
  await page.fill('#username', user);
  await page.fill('#password', PASSWORD);
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/login/totp'),
    page.click('form[action="/login"] button[type=submit]'),
  ]);
  await page.locator('#code').waitFor();
}

/** Full login (password + current TOTP code); ends on the dashboard. */
async function login(page, user) {
  await passwordStep(page, user);
  const code = await totpCode(user);
  await page.fill('#code', code);
  await Promise.all([
    page.waitForURL((u) => u.pathname !== '/login/totp'),
    page.click('form[action="/login/totp"] button[type=submit]'),
  ]);
  assert.equal(new URL(page.url()).pathname, '/', `after login as ${user} expected the dashboard, got ${page.url()}`);
}

before(async () => {
  h = await startWarden('warden-browser-');
  base = h.base;
});

after(async () => {
  if (h) await h.stop();
});


describe('Warden in headless Chromium', () => {
  test('a wrong TOTP code shows an error and stays on the TOTP page', async () => {
    const { context, page } = await newPage();
    try {
      await passwordStep(page, 'sa.afghanistan');
      // A code that is (almost certainly) not valid in the accepted window.
      const right = await totpCode('sa.afghanistan');
      const wrong = right === '000000' ? '111111' : '000000';
      await page.fill('#code', wrong);
      await Promise.all([
        page.waitForLoadState('load'),
        page.waitForResponse((r) => r.url().includes('/login/totp') && r.request().method() === 'POST'),
        page.click('form[action="/login/totp"] button[type=submit]'),
      ]);
      await page.locator('.error-summary').waitFor();
      assert.equal(new URL(page.url()).pathname, '/login/totp');
      assert.ok(await page.locator('#code').isVisible(), 'the code field is still shown');
      assert.equal(await page.locator('#code').getAttribute('aria-invalid'), 'true');
      const msg = (await page.locator('.error-summary').innerText()).trim();
      assert.ok(msg.length > 0, 'error summary has text');
      console.log(`wrong TOTP message: ${JSON.stringify(msg)}`);
      await shot(page, 'totp-wrong-code');
    } finally {
      await context.close();
    }
  });

  test('Designated Official logs in with TOTP and approves a security level', async () => {
    const { context, page } = await newPage();
    try {
      await login(page, 'do.afghanistan');

      // "Waiting for you": the first card's table on the dashboard.
      const work = page.locator('table tbody a[href^="/assessments/"]');
      assert.ok((await work.count()) > 0, 'the DO has work waiting on the dashboard');
      await shot(page, 'dashboard-do');
      const href = await work.first().getAttribute('href');
      const id = href.split('/').pop();

      await Promise.all([page.waitForURL((u) => u.pathname === `/assessments/${id}`), work.first().click()]);
      await shot(page, 'assessment-before');
      assert.equal(await page.locator('#status').getAttribute('data-status'), 'validated');

      const proposed = (await page.locator('dl.facts .badge-large .badge-num').first().innerText()).trim();
      assert.match(proposed, /^[1-6]$/, 'proposed level is a number 1-6');
      const areaHref = await page.locator('nav.breadcrumbs a[href^="/areas/"]').first().getAttribute('href');
      const areaCode = decodeURIComponent(areaHref.slice('/areas/'.length));

      const smt = page.locator('#decision input[name=smt_consulted]');
      assert.ok((await smt.count()) > 0, 'SMT members are offered');
      await smt.first().check();
      await page.fill('#reason', 'Browser test: SMT consulted, approving the proposed level.');
      await Promise.all([
        page.waitForURL((u) => u.pathname === `/assessments/${id}` && u.searchParams.get('done') === 'approved'),
        page.click('#do-approve'),
      ]);

      const flash = page.locator('.flash.flash-success');
      await flash.waitFor();
      assert.match(await flash.innerText(), /Approved/);
      await page.locator('#status[data-status=approved]').waitFor();
      // No decision form for a closed assessment.
      assert.equal(await page.locator('#do-approve').count(), 0, 'no approve button after approval');
      await shot(page, 'assessment-approved');

      await page.goto(`${base}/areas/${encodeURIComponent(areaCode)}`);
      const badge = page.locator('.page-header .badge-large');
      assert.equal((await badge.locator('.badge-num').innerText()).trim(), proposed);
      assert.ok((await badge.getAttribute('class')).includes(`level-${proposed}`));
      await shot(page, 'area-approved');

      const api = await page.evaluate(async (code) => {
        const r = await fetch(`/api/v1/areas/${encodeURIComponent(code)}`, { headers: { Accept: 'application/json' } });
        return { status: r.status, body: await r.json() };
      }, areaCode);
      assert.equal(api.status, 200);
      assert.equal(String(api.body.level), proposed, `API level of ${areaCode}: ${JSON.stringify(api.body)}`);
    } finally {
      await context.close();
    }
  });

  test('regional desk validates the submitted assessment', async () => {
    const { context, page } = await newPage();
    try {
      await login(page, 'desk.asia');
      await page.goto(`${base}/assessments?country=AF&status=submitted`);
      const items = page.locator('table tbody a[href^="/assessments/"]');
      assert.ok((await items.count()) > 0, 'a submitted Afghan assessment is in the queue');
      const id = (await items.first().getAttribute('href')).split('/').pop();
      await page.goto(`${base}/assessments/${id}`);
      assert.equal(await page.locator('#status').getAttribute('data-status'), 'submitted');
      await page.fill('#reason', 'Browser test: validated by the regional desk.');
      await Promise.all([
        page.waitForURL((u) => u.pathname === `/assessments/${id}` && u.searchParams.get('done') === 'validated'),
        page.click('#do-validate'),
      ]);
      await page.locator('#status[data-status=validated]').waitFor();
      assert.match(await page.locator('.flash.flash-success').innerText(), /Validated/);
      await shot(page, 'assessment-validated');
    } finally {
      await context.close();
    }
  });

  test('Arabic interface is right-to-left', async () => {
    const { context, page } = await newPage();
    try {
      await page.goto(`${base}/lang/ar`);
      await page.goto(`${base}/countries/AF`);
      assert.equal(await page.locator('html').getAttribute('dir'), 'rtl');
      assert.equal(await page.locator('html').getAttribute('lang'), 'ar');
      assert.equal(await page.evaluate(() => getComputedStyle(document.body).direction), 'rtl');
      await page.locator('.level-map canvas').first().waitFor();
      await shot(page, 'country-af-arabic');
    } finally {
      await context.close();
    }
  });

  test('country map page draws the areas', async () => {
    const { context, page } = await newPage();
    try {
      await context.addInitScript(() => {
        document.addEventListener('wardenmap:ready', () => {
          window.__wardenmapReady = true;
        });
      });
      await page.goto(`${base}/countries/AF`);
      await page.waitForFunction(
        () => window.__wardenmapReady === true || !!document.querySelector('.level-map canvas'),
      );
      await page.locator('.level-map canvas').first().waitFor();
      // Wait for the 'ready' event proper (GeoJSON loaded and drawn).
      await page.waitForFunction(() => window.__wardenmapReady === true);
      const box = await page.locator('.level-map').boundingBox();
      assert.ok(box && box.width > 200 && box.height > 150, `map has a size: ${JSON.stringify(box)}`);
      // The canvas is not blank: some pixels differ from the first one.
      const painted = await page.evaluate(() => {
        const c = document.querySelector('.level-map canvas');
        const ctx = c.getContext('2d');
        const d = ctx.getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4 * 16) if (d[i] !== 0) n++;
        return n;
      });
      assert.ok(painted > 0, 'the map canvas has painted pixels');
      assert.ok((await page.locator('table tbody tr').count()) > 0, 'the country page lists areas');
      await shot(page, 'country-af-map');
    } finally {
      await context.close();
    }
  });
});
