// What every browser test needs: a fresh demo database in a temp dir, the
// warden binary serving it on a free loopback port, headless Chromium driven
// by playwright-core, TOTP codes from `warden totp-code`, and screenshots.
//
// Environment: WARDEN_BIN (path to the warden binary; default
// target/release/warden of this repository), CHROMIUM (default
// /usr/bin/chromium), WARDEN_SCREENSHOT_DIR (default: a new temp dir).

import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const execFileP = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
export const WARDEN = process.env.WARDEN_BIN || path.join(repo, 'target', 'release', 'warden');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
/** The password of every demo user. */
export const PASSWORD = 'warden-demo-2026';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Builds the demo data set, serves it and launches the browser. Returns
 * `{ base, dbFile, totpCode(user), login(page, user, { totp }), shot(page, name), newPage(options), stop() }`.
 */
export async function startWarden(tmpPrefix) {
  assert.ok(existsSync(WARDEN), `warden binary not found at ${WARDEN} (set WARDEN_BIN)`);
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM} (set CHROMIUM)`);
  const tmp = await mkdtemp(path.join(os.tmpdir(), tmpPrefix));
  const shotDir = process.env.WARDEN_SCREENSHOT_DIR || (await mkdtemp(path.join(os.tmpdir(), 'warden-shots-')));
  await mkdir(shotDir, { recursive: true });
  const dbFile = path.join(tmp, 'demo.db');
  const shots = [];

  await execFileP(WARDEN, ['demo', '--reset', '--no-serve', '--file', dbFile], { timeout: 300_000 });

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(WARDEN, ['demo', '--file', dbFile, '--listen', `127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  let serverLog = '';
  const keep = (d) => {
    serverLog += d.toString();
    if (serverLog.length > 100_000) serverLog = serverLog.slice(-50_000);
  };
  server.stdout.on('data', keep);
  server.stderr.on('data', keep);

  const url = `${base}/healthz`;
  const deadline = Date.now() + 60_000;
  let last = '';
  for (;;) {
    if (server.exitCode !== null || server.signalCode !== null) {
      throw new Error(`warden exited early (${server.exitCode ?? server.signalCode}):\n${serverLog}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) break;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = String(e.cause?.code || e.message);
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within 60 s (last: ${last}):\n${serverLog}`);
    await sleep(200);
  }

  // playwright-core gives every launch() a fresh temporary profile.
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });

  return {
    base,
    dbFile,
    async totpCode(user) {
      const { stdout } = await execFileP(WARDEN, ['totp-code', user, '--database', `sqlite://${dbFile}`], {
        timeout: 30_000,
      });
      const m = stdout.match(/\b(\d{6})\b/);
      assert.ok(m, `no 6-digit code in totp-code output: ${JSON.stringify(stdout)}`);
      return m[1];
    },
    async shot(page, name) {
      const file = path.join(shotDir, `${name}.png`);
      // From the top: a full-page shot of a scrolled page shows the sticky bar mid-page.
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: file, fullPage: true });
      shots.push(file);
      console.log(`screenshot: ${file}`);
      return file;
    },
    /** Signs in through the login form (and the TOTP step with `totp`), ending on the dashboard. */
    async login(page, user, { totp = false } = {}) {
      await page.goto(`${base}/login`);
      await page.fill('#username', user);
      await page.fill('#password', PASSWORD);
      const next = totp ? (u) => u.pathname === '/login/totp' : (u) => u.pathname === '/';
      await Promise.all([page.waitForURL(next), page.click('form[action="/login"] button[type=submit]')]);
      if (totp) {
        await page.fill('#code', await this.totpCode(user));
        await Promise.all([
          page.waitForURL((u) => u.pathname !== '/login/totp'),
          page.click('form[action="/login/totp"] button[type=submit]'),
        ]);
      }
      assert.equal(new URL(page.url()).pathname, '/', `after login as ${user} expected the dashboard, got ${page.url()}`);
    },
    async newPage(options = {}) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB', ...options });
      context.setDefaultTimeout(15_000);
      const page = await context.newPage();
      page.on('pageerror', (err) => console.log(`[page error] ${page.url()}: ${err.message}`));
      page.on('console', (msg) => {
        if (msg.type() === 'error') console.log(`[console error] ${page.url()}: ${msg.text()}`);
      });
      return { context, page };
    },
    async stop() {
      await browser.close().catch(() => {});
      if (server.exitCode === null && server.signalCode === null) {
        const exited = new Promise((r) => server.once('exit', r));
        server.kill('SIGTERM');
        const t = setTimeout(() => server.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      await rm(tmp, { recursive: true, force: true }).catch(() => {});
      // The server's warnings and errors (a 500's cause is only in its log).
      const trouble = serverLog.split('\n').filter((l) => /\b(WARN|ERROR)\b/.test(l));
      if (trouble.length) console.log(`warden's warnings and errors:\n  ${trouble.slice(-40).join('\n  ')}`);
      if (shots.length) console.log(`screenshots in ${shotDir}:\n  ${shots.join('\n  ')}`);
    },
  };
}

/** Horizontal overflow of the page: scroll width and elements sticking out. */
export async function overflow(page) {
  return page.evaluate(() => {
    const over = [];
    for (const el of document.querySelectorAll('main *')) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && (r.right > window.innerWidth + 0.5 || r.left < -0.5)) {
        over.push(`${el.tagName}#${el.id}.${el.className}`);
      }
    }
    return {
      scroll: document.documentElement.scrollWidth,
      width: document.documentElement.clientWidth,
      inner: window.innerWidth,
      over: over.slice(0, 10),
    };
  });
}
