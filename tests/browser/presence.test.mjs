// End-to-end browser test of who is where in real headless Chromium.
//
// Builds a fresh demo database in a temp dir (a few hundred personnel with
// duty stations, trips and phones; the demo traveller's phone in Kabul),
// serves it on a free loopback port, and drives Debian's Chromium with
// playwright-core:
//   - the Designated Official (TOTP) opens the presence map from the
//     navigation, the map draws Afghanistan's areas coloured by the people
//     present, and a click on Kabul on the map opens Kabul's headcount;
//   - she accepts the undertaking on location data and sees the people with
//     why (duty station, travel, phone) and how fresh, the flagged
//     (unknown, overdue, stale) first, and the counts by agency;
//   - she starts a roll call for Kabul; the board shows everyone asked;
//   - the traveller, in her own browser on a phone, follows the in-app
//     notification to the eTA and answers "I am safe";
//   - the DO's board counts her without a reload (server-sent events);
//   - at 390x844 the board has no horizontal scroll;
//   - the DO closes the roll call; the record stays, read-only.
// Screenshots go to $WARDEN_SCREENSHOT_DIR (or a new temp dir).
//
// Environment: WARDEN_BIN, CHROMIUM, WARDEN_SCREENSHOT_DIR (see harness.mjs).

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { overflow, startWarden } from './harness.mjs';

let h;
let base;

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

before(async () => {
  h = await startWarden('warden-browser-presence-');
  base = h.base;
});

after(async () => {
  if (h) await h.stop();
});

describe('who is where in headless Chromium', () => {
  test('map → Kabul → people and flags → roll call → answer → live board → close', async () => {
    const { context, page } = await h.newPage();
    let traveller;
    try {
      await h.login(page, 'do.afghanistan', { totp: true });
      await Promise.all([page.waitForURL((u) => u.pathname === '/presence'), page.click('nav.topnav a[href="/presence"]')]);
      assert.equal(await page.inputValue('#country'), 'AF', 'her country is chosen');
      // The map draws every area of Afghanistan.
      await page.waitForFunction(() => Number(document.getElementById('presence-map').dataset.loaded || 0) > 20);
      const kabulRow = page.locator('tr[data-area="AF-KAB"]');
      await kabulRow.waitFor();
      const present = Number((await kabulRow.locator('td').first().innerText()).trim());
      assert.ok(present >= 80, `Kabul holds the demo's residents and visitors (${present})`);
      assert.ok((await page.locator('#presence-table tbody tr').count()) >= 5, 'several areas with people');
      await h.shot(page, 'presence-map');

      // A click on Kabul on the map opens its headcount.
      const pt = await page.evaluate(() => {
        const el = document.getElementById('presence-map');
        const p = el.presenceMap.latLngToContainerPoint([34.53, 69.17]);
        const r = el.getBoundingClientRect();
        return { x: r.left + p.x, y: r.top + p.y };
      });
      await Promise.all([
        page.waitForURL((u) => u.pathname === '/areas/AF-KAB/headcount'),
        page.mouse.click(pt.x, pt.y),
      ]);
      assert.ok(Number(await page.innerText('#total-present')) >= 80);
      assert.ok(Number(await page.innerText('#flag-unknown')) >= 1, 'unknown flagged');
      assert.ok(Number(await page.innerText('#flag-overdue')) >= 1, 'overdue flagged');
      assert.ok(Number(await page.innerText('#flag-stale')) >= 1, 'stale flagged');
      assert.ok(Number(await page.innerText('#why-travel')) >= 1);
      assert.ok(Number(await page.innerText('#why-phone')) >= 1);
      assert.ok(Number(await page.innerText('#why-duty')) >= 1);
      assert.equal(await page.locator('#people-list').count(), 0, 'no names before the undertaking');

      // The undertaking, then the people: why, how fresh, flagged first.
      await Promise.all([page.waitForURL((u) => u.pathname === '/undertaking'), page.click('#undertaking-link')]);
      await Promise.all([
        page.waitForURL((u) => u.pathname === '/areas/AF-KAB/headcount'),
        page.click('#undertaking-accept'),
      ]);
      const people = page.locator('#people-list > li');
      assert.ok((await people.count()) >= 80);
      assert.ok((await people.first().getAttribute('data-flagged')) !== null, 'the flagged come first');
      for (const reason of ['duty_station', 'travel', 'phone']) {
        assert.ok((await page.locator(`#people-list > li[data-reason="${reason}"]`).count()) > 0, reason);
      }
      for (const flag of ['unknown', 'overdue', 'stale_location']) {
        assert.ok((await page.locator(`#people-list [data-flag="${flag}"]`).count()) > 0, flag);
      }
      assert.ok((await page.locator('#people-list time').count()) > 0, 'how fresh');
      assert.ok((await page.locator('#by-agency tbody tr').count()) >= 5, 'several agencies');
      await h.shot(page, 'area-headcount');

      // She starts a roll call for Kabul.
      await page.fill('#rollcall-message', 'Explosion reported near the airport. Stay where you are.');
      await Promise.all([page.waitForURL((u) => u.pathname.startsWith('/roll-calls/')), page.click('#rollcall-start')]);
      const boardUrl = new URL(page.url()).pathname;
      const asked = Number(await page.innerText('#tally-people'));
      assert.ok(asked >= 80, `everyone present asked (${asked})`);
      assert.equal(await page.innerText('#tally-accounted'), '0');
      assert.equal(Number(await page.innerText('#tally-no-answer')), asked);
      assert.ok((await page.locator('#chase-list > li').count()) > 0, 'who to chase');
      // No reload from here on: a marker on the window survives only without one.
      await page.evaluate(() => { window.__sameDocument = true; });
      await page.waitForFunction(() => document.querySelector('#board-live .js-only') !== null);
      await h.shot(page, 'roll-call-board-open');

      // The traveller, on her phone, follows the notification and answers.
      traveller = await h.newPage(PHONE);
      const tp = traveller.page;
      await h.login(tp, 'traveller');
      await Promise.all([tp.waitForURL((u) => u.pathname === '/notifications'), tp.click('nav.topnav a[href="/notifications"]')]);
      const ask = tp.locator('li[data-kind="rollcall.ask"] a[href="/eta"]').first();
      assert.match(await ask.innerText(), /Roll call for Kabul/, 'the in-app notification asks her');
      await Promise.all([tp.waitForURL((u) => u.pathname === '/eta'), ask.click()]);
      await tp.click('#i-am-safe');
      await tp.waitForLoadState();
      await h.shot(tp, 'traveller-answered');

      // The board counts her without a reload.
      await page.waitForFunction(() => document.getElementById('tally-accounted').textContent.trim() === '1', null, {
        timeout: 20_000,
      });
      assert.equal(Number(await page.innerText('#tally-no-answer')), asked - 1);
      assert.equal(await page.evaluate(() => window.__sameDocument), true, 'updated in place, not reloaded');
      assert.ok(Number(await page.getAttribute('#board', 'data-updates')) >= 1);

      // A phone-sized window: no horizontal scroll on the board.
      await page.setViewportSize({ width: 390, height: 844 });
      await page.waitForTimeout(300);
      const o = await overflow(page);
      assert.ok(o.scroll <= o.width, `no horizontal scroll at 390x844: ${JSON.stringify(o)}`);
      await h.shot(page, 'roll-call-board-phone');
      await page.setViewportSize({ width: 1280, height: 900 });

      // She closes it; the record stays, read-only.
      await Promise.all([page.waitForURL((u) => u.search.includes('done=closed')), page.click('#close-roll-call')]);
      assert.equal(new URL(page.url()).pathname, boardUrl);
      assert.equal(await page.getAttribute('#board-state', 'data-state'), 'closed');
      assert.equal(await page.locator('#close-roll-call').count(), 0);
      assert.equal(await page.innerText('#tally-accounted'), '1');
      await Promise.all([page.waitForURL((u) => u.pathname === '/roll-calls'), page.click('.breadcrumbs a[href="/roll-calls"]')]);
      assert.equal(await page.locator('.rollcall-item').count(), 1);
      await h.shot(page, 'roll-calls-list');
    } finally {
      if (traveller) await traveller.context.close();
      await context.close();
    }
  });
});
