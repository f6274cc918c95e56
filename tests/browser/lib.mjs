// lib.mjs - what the browser tests share: Debian's Chromium launched by
// playwright-core (never a downloaded browser), a page signed in through
// the dashboard's own form, screenshots at phone and desktop size, and
// waiting for the screens' live state. The server, its keys and the fakes'
// ports come from tests/api/run.sh's environment (tests/browser/run.sh
// starts it), and the REST helpers from tests/api/lib.mjs.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

import { BASE } from '../api/lib.mjs';

export { BASE };
export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 800 };
const SHOTS = process.env.MUNSHI_SCREENSHOTS || join(process.cwd(), 'test-output', 'screenshots');

/** The system Chromium, headless. As root (CI) its sandbox cannot start. */
export async function launch() {
  const args = [];
  if (typeof process.getuid === 'function' && process.getuid() === 0) args.push('--no-sandbox');
  return chromium.launch({
    executablePath: process.env.MUNSHI_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args,
  });
}

/**
 * A page of a fresh context at phone size, with the browser's console errors
 * and uncaught exceptions collected in page.errors (a test asserts none).
 */
export async function newPage(browser, viewport = PHONE) {
  const context = await browser.newContext({ viewport, locale: 'en-IN', timezoneId: 'Asia/Kolkata' });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // A WebSocket that cannot connect logs an error; the live tests assert
    // the live path themselves, so only script errors count here.
    if (m.type() === 'error' && !/WebSocket|Failed to load resource/i.test(m.text())) page.errors.push(`console: ${m.text()}`);
  });
  page.setDefaultTimeout(15000);
  return page;
}

/** Opens the dashboard at hash ("#/inbox"). */
export async function open(page, hash = '') {
  await page.goto(`${BASE}/${hash}`);
}

/** Signs in through the dashboard's form (the user exists already). */
export async function signIn(page, user) {
  await open(page);
  await page.locator('#email').fill(user.email);
  await page.locator('#password').fill(user.password);
  await page.locator('[data-action=signin]').click();
  await page.locator('[data-screen]:not([data-screen=signin])').first().waitFor();
}

/** Goes to a route and waits for the screen's root. */
export async function go(page, hash, screen) {
  await page.evaluate((h) => { window.location.hash = h; }, hash);
  await page.locator(`[data-screen="${screen}"]`).first().waitFor();
}

/** Waits until the screen's realtime channel has joined (data-live="live"). */
export const LIVE = 'live';
export async function waitLive(page, screen) {
  await page.locator(`[data-screen="${screen}"][data-live="${LIVE}"]`).waitFor({ timeout: 20000 });
}

/**
 * Screenshots of what the page shows now, at phone and at desktop size, as
 * <dir>/<name>-phone.png and <name>-desktop.png; the page goes back to the
 * size it had. The whole page, taken as a window that tall (at most 6000
 * px) rather than as Chromium's full-page capture, which draws a fixed
 * header or bottom bar where the window was, in the middle of the page.
 */
export async function shoot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  const was = page.viewportSize();
  for (const [tag, size] of [['phone', PHONE], ['desktop', DESKTOP]]) {
    await page.setViewportSize(size);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.waitForTimeout(150); // a layout change and its repaint
    const h = await page.evaluate(() => document.documentElement.scrollHeight);
    if (h > size.height) {
      await page.setViewportSize({ width: size.width, height: Math.min(h, 6000) });
      await page.waitForTimeout(150);
    }
    await page.screenshot({ path: join(SHOTS, `${name}-${tag}.png`) });
  }
  if (was) await page.setViewportSize(was);
}

export function noErrors(page) {
  assert.deepEqual(page.errors, [], 'the page logged errors');
}
