// End-to-end browser test of the TRIP screens in real headless Chromium.
//
// Builds a fresh demo database in a temp dir (Kabul, AF-KAB, is under manual
// processing there), serves it on a free loopback port, and drives Debian's
// Chromium with playwright-core:
//   - the demo traveller records a trip: Geneva to Kabul, Kabul picked from the
//     place search after typing "Kab"; a second leg added with the button
//     (it starts in Kabul) and Herat picked with the keyboard; the answer comes
//     at once: leg 1 a clearance pending with the security adviser, leg 2 a
//     notification acknowledged;
//   - the submit form at a phone's size (390x844) has no horizontal scroll,
//     with two legs and the suggestions open;
//   - the security adviser (password + TOTP) opens the clearance queue, opens
//     the trip from it and grants leg 1 with a comment;
//   - the traveller sees leg 1 granted and the trip cleared;
//   - the Designated Official opens Kabul's travel processing settings from
//     the area page.
// Screenshots go to $WARDEN_SCREENSHOT_DIR (or a new temp dir); their paths
// are printed.
//
// Environment: WARDEN_BIN (path to the warden binary; default
// target/release/warden of this repository), CHROMIUM (default
// /usr/bin/chromium), WARDEN_SCREENSHOT_DIR.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startWarden } from './harness.mjs';

let h; // the service and the browser (harness.mjs)
let base; // http://127.0.0.1:PORT
const shot = (page, name) => h.shot(page, name);
const newPage = (options) => h.newPage(options);

/** `YYYY-MM-DDTHH:MM`, `days` from today, for a datetime-local input. */
function localAt(days, hh, mm = 0) {
  const d = new Date(Date.now() + days * 86_400_000);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}T${p(hh)}:${p(mm)}`;
}

/** Types into a place field and waits for the suggestions. */
async function search(page, selector, text) {
  await page.fill(selector, '');
  await page.locator(selector).pressSequentially(text, { delay: 60 });
  const list = page.locator('#place-suggestions [role=option]');
  await list.first().waitFor();
  return list;
}

before(async () => {
  h = await startWarden('warden-browser-trips-');
  base = h.base;
});

after(async () => {
  if (h) await h.stop();
});


describe('TRIP in headless Chromium', () => {
  let tripId;

  test('a traveller records a trip with the place search and gets the answer at once', async () => {
    const { context, page } = await newPage();
    try {
      await h.login(page, 'traveller');
      await Promise.all([page.waitForURL((u) => u.pathname === '/trips'), page.click('nav.topnav a[href="/trips"]')]);
      assert.equal(await page.locator('nav.topnav a[href="/clearances"]').count(), 0, 'no queue for a traveller');
      await Promise.all([page.waitForURL((u) => u.pathname === '/trips/new'), page.click('#new-trip')]);

      await page.selectOption('#purpose', 'official');
      await page.fill('#ta_number', 'TA-BROWSER-1');
      await page.fill('#leg-0-from', 'GVA');
      // Type "Kab", pick Kabul.
      const options = await search(page, '#leg-0-to', 'Kab');
      const kabul = options.filter({ hasText: 'Kabul' }).first();
      await kabul.waitFor();
      assert.match(await kabul.innerText(), /AF-KAB/, 'the suggestion names the area');
      assert.equal(await page.getAttribute('#leg-0-to', 'aria-expanded'), 'true');
      await shot(page, 'trip-place-search');
      await kabul.click();
      const kabulValue = await page.inputValue('#leg-0-to');
      assert.match(kabulValue, /^(Kabul, AF|KBL)$/, `picked value ${kabulValue}`);
      assert.equal(await page.locator('#place-suggestions').count(), 0, 'the list closes');
      await page.fill('#leg-0-depart', localAt(10, 8));
      await page.fill('#leg-0-arrive', localAt(10, 20));

      // A second leg, in place: it starts where the first one ends.
      await page.click('#add-leg');
      await page.locator('#leg-1-to').waitFor();
      assert.equal(await page.inputValue('#leg-1-from'), kabulValue);
      assert.equal((await page.locator('#leg-1 legend').innerText()).trim(), 'Leg 2');
      assert.ok(await page.locator('#leg-0 [data-leg-remove]').isVisible(), 'legs can be removed now');
      // Herat with the keyboard.
      await search(page, '#leg-1-to', 'Herat');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('Enter');
      const heratValue = await page.inputValue('#leg-1-to');
      assert.match(heratValue, /Her[aā]t|HEA|AF-HER/, `picked value ${heratValue}`);
      await page.fill('#leg-1-depart', localAt(12, 9));
      await page.fill('#leg-1-arrive', localAt(12, 10, 30));
      await shot(page, 'trip-new-filled');

      await Promise.all([
        page.waitForURL((u) => /^\/trips\/[0-9a-f-]{36}$/.test(u.pathname) && u.searchParams.get('done') === 'submitted'),
        page.click('#submit-trip'),
      ]);
      tripId = new URL(page.url()).pathname.split('/').pop();
      const flash = page.locator('.flash.flash-success');
      await flash.waitFor();
      const text = await flash.innerText();
      console.log(`answer: ${JSON.stringify(text)}`);
      assert.match(text, /Leg 1 into Kabul \(AF-KAB\): clearance pending with Farid Rahimi/);
      assert.match(text, /Leg 2 into Herat \(AF-HER\): notification acknowledged/);
      assert.equal(await page.getAttribute('#leg-1-status', 'data-status'), 'pending');
      assert.equal(await page.getAttribute('#leg-2-status', 'data-status'), 'acknowledged');
      assert.equal(await page.getAttribute('#trip-status', 'data-status'), 'pending');
      assert.equal(await page.locator('#decide-1').count(), 0, 'the traveller does not decide');
      await shot(page, 'trip-submitted');
    } finally {
      await context.close();
    }
  });

  test('the submit form fits a phone (390x844) without horizontal scroll', async () => {
    const { context, page } = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    try {
      await h.login(page, 'traveller');
      await page.goto(`${base}/trips/new`);
      await page.click('#add-leg');
      await page.locator('#leg-1-to').waitFor();
      await page.fill('#leg-0-from', 'GVA');
      await search(page, '#leg-0-to', 'Kab');
      const m = await page.evaluate(() => {
        const over = [];
        for (const el of document.querySelectorAll('main *')) {
          const r = el.getBoundingClientRect();
          if (r.width > 0 && r.right > window.innerWidth + 0.5) over.push(`${el.tagName}#${el.id}.${el.className}`);
        }
        return {
          scroll: document.documentElement.scrollWidth,
          width: document.documentElement.clientWidth,
          inner: window.innerWidth,
          over: over.slice(0, 10),
        };
      });
      console.log(`phone layout: ${JSON.stringify(m)}`);
      assert.equal(m.inner, 390, 'the phone viewport');
      assert.ok(m.scroll <= m.width, `no horizontal scroll: scrollWidth ${m.scroll} > ${m.width}`);
      assert.deepEqual(m.over, [], 'nothing sticks out on the right');
      await shot(page, 'trip-new-phone');
    } finally {
      await context.close();
    }
  });

  test('the security adviser grants the leg from the clearance queue', async () => {
    assert.ok(tripId, 'the trip was recorded');
    const { context, page } = await newPage();
    try {
      await h.login(page, 'sa.afghanistan', { totp: true });
      await Promise.all([
        page.waitForURL((u) => u.pathname === '/clearances'),
        page.click('nav.topnav a[href="/clearances"]'),
      ]);
      assert.equal(await page.inputValue('#country'), 'AF', 'the adviser’s country is pre-selected');
      const row = page.locator(`tr[data-trip="${tripId}"]`);
      await row.waitFor();
      assert.ok((await page.locator('tr[data-urgency="soon"]').count()) > 0, 'the demo trip departing tomorrow is marked urgent');
      await shot(page, 'clearances-queue');
      await Promise.all([
        page.waitForURL((u) => u.pathname === `/trips/${tripId}`),
        row.locator(`a[href^="/trips/${tripId}"]`).click(),
      ]);
      assert.equal(await page.getAttribute('#leg-1-status', 'data-status'), 'pending');
      assert.equal(await page.locator('#decide-2').count(), 0, 'no decision on a notification');
      await page.fill('#comment-1', 'Granted: check in with the security cell on arrival.');
      await shot(page, 'trip-decision-form');
      await Promise.all([
        page.waitForURL((u) => u.pathname === `/trips/${tripId}` && u.searchParams.get('done') === 'granted'),
        page.click('#grant-1'),
      ]);
      assert.match(await page.locator('.flash.flash-success').innerText(), /Clearance granted/);
      assert.equal(await page.getAttribute('#leg-1-status', 'data-status'), 'granted');
      assert.match(await page.locator('#leg-1-decision').innerText(), /Farid Rahimi/);
      assert.equal(await page.locator('#decide-1').count(), 0, 'decided: no form any more');
      await shot(page, 'trip-granted-adviser');
    } finally {
      await context.close();
    }
  });

  test('the traveller sees the leg granted', async () => {
    const { context, page } = await newPage();
    try {
      await h.login(page, 'traveller');
      await page.goto(`${base}/trips`);
      const row = page.locator(`tr[data-trip="${tripId}"]`);
      assert.equal(await row.locator('[data-status]').first().getAttribute('data-status'), 'cleared');
      await Promise.all([page.waitForURL((u) => u.pathname === `/trips/${tripId}`), row.locator('a').first().click()]);
      assert.equal(await page.getAttribute('#leg-1-status', 'data-status'), 'granted');
      assert.match(await page.locator('#leg-1-comment').innerText(), /check in with the security cell/);
      assert.equal(await page.getAttribute('#trip-status', 'data-status'), 'cleared');
      await shot(page, 'trip-granted-traveller');

      // The same pages in Arabic, right to left.
      await page.goto(`${base}/lang/ar`);
      await page.goto(`${base}/trips/${tripId}`);
      assert.equal(await page.locator('html').getAttribute('dir'), 'rtl');
      assert.equal(await page.getAttribute('#leg-1-status', 'data-status'), 'granted');
      await shot(page, 'trip-arabic');
      await page.goto(`${base}/trips/new`);
      assert.equal(await page.evaluate(() => getComputedStyle(document.body).direction), 'rtl');
      await search(page, '#leg-0-to', 'Kab');
      await shot(page, 'trip-new-arabic');
    } finally {
      await context.close();
    }
  });

  test('the Designated Official opens the area’s travel processing', async () => {
    const { context, page } = await newPage();
    try {
      await h.login(page, 'do.afghanistan', { totp: true });
      await page.goto(`${base}/areas/AF-KAB`);
      await Promise.all([
        page.waitForURL((u) => u.pathname === '/areas/AF-KAB/settings'),
        page.click('#area-settings'),
      ]);
      assert.equal(await page.getAttribute('#current-mode', 'data-mode'), 'manual');
      assert.ok(await page.locator('#mode-manual').isChecked());
      assert.ok((await page.locator('#mode-history tbody tr').count()) >= 1, 'the demo DO’s decision is in the history');
      await shot(page, 'area-settings');
    } finally {
      await context.close();
    }
  });
});
