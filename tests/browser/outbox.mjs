// Issue 13, item 5, in headless Chromium: the settings page's Outbox card
// of a workspace whose queue waits paused after Meta refused its token
// (the Python side left it so): the counts, why it is paused, and what
// to do, visible; saves the card alone as outbox-card.png under $OUT_DIR.
//
// env: BASE_URL, EMAIL, PASSWORD, SLUG, OUT_DIR
import { join } from 'node:path';
import { env, expect, launch, shooter } from './lib.mjs';

const BASE = env('BASE_URL'), SLUG = env('SLUG');
const shot = shooter();

const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  page.setDefaultTimeout(20000);
  const errors = [];
  page.on('console', (m) => { if (/Content Security Policy/.test(m.text())) errors.push(m.text()); });

  await page.goto(`${BASE}/login`);
  await page.fill('#email', env('EMAIL'));
  await page.fill('#password', env('PASSWORD'));
  await Promise.all([page.waitForURL(/\/w\//), page.click('button[type=submit]')]);
  await page.goto(`${BASE}/w/${SLUG}/settings/whatsapp`);

  const card = page.locator('#outbox');
  await card.scrollIntoViewIfNeeded();
  expect(await card.isVisible(), 'the Outbox card is shown');
  const why = (await page.locator('#outbox-paused-why').innerText()).trim();
  expect(await page.isVisible('#outbox-paused-why') &&
    why.includes('(the access token expired). Reconnect above'), `why it is paused: ${why}`);
  const paused = (await page.locator('#outbox-paused').innerText()).trim();
  expect(paused.startsWith('12 '), `12 paused: ${paused}`);
  const hour = (await page.locator('#outbox-last-hour').innerText()).trim();
  expect(hour === '30 sent · 2 failed · 1 unknown', `the last hour: ${hour}`);
  expect(await page.isVisible('#outbox-unknown-note'), 'what unknown means');
  expect(errors.length === 0, `no CSP violation (${errors.join('; ')})`);
  await shot(page, 'paused');
  await card.screenshot({ path: join(env('OUT_DIR'), 'outbox-card.png') });
  console.log('ok - outbox card flow');
} finally {
  await browser.close();
}
