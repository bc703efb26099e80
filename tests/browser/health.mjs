// Issue 12, item 5, in headless Chromium: the settings page's Health card
// before any check, then Check now after Meta blocked the number (its
// reason in words), then a second press within the minute (refused).
// Saves a screenshot of each step under $OUT_DIR (health-card.png: the
// card alone).
//
// env: BASE_URL, SANDBOX_URL, EMAIL, PASSWORD, SLUG, OUT_DIR
import { join } from 'node:path';
import { env, expect, launch, sandbox, shooter } from './lib.mjs';

const BASE = env('BASE_URL'), SLUG = env('SLUG');
const S = `${BASE}/w/${SLUG}/settings/whatsapp`;
const shot = shooter();
const PHONE = '106540352242922';
const WHY = 'There is an error with the payment method.';
const FIX = 'Please add a new payment method to the account.';

const browser = await launch();
try {
  await sandbox('/_sandbox/reset', {});
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  page.setDefaultTimeout(20000);
  const errors = [];
  page.on('console', (m) => { if (/Content Security Policy/.test(m.text())) errors.push(m.text()); });

  await page.goto(`${BASE}/login`);
  await page.fill('#email', env('EMAIL'));
  await page.fill('#password', env('PASSWORD'));
  await Promise.all([page.waitForURL(new RegExp(`/w/${SLUG}/settings/whatsapp$`)),
    page.click('button[type=submit]')]);
  await Promise.all([page.waitForURL(`${env('SANDBOX_URL')}/**`), page.click('#connect')]);
  await Promise.all([page.waitForURL(/\/phone-numbers(\?.*)?(#.*)?$/), page.click('#continue')]);
  await page.check(`input[name=phone_number_id][value="${PHONE}"]`);
  await page.fill('#pin', '123456');
  await Promise.all([page.waitForURL(/\?m=connected$/), page.click('#use-number')]);

  expect(await page.isVisible('#health-not-checked'), 'the card says it was not checked yet');
  await shot(page, 'not-checked-yet');

  await sandbox('/_sandbox/numbers/health', {
    phone_number_id: PHONE, entity_type: 'WABA', can_send_message: 'BLOCKED',
    errors: [{ error_code: 141006, error_description: WHY, possible_solution: FIX }],
  });
  await sandbox('/_sandbox/numbers/update', { phone_number_id: PHONE, quality_rating: 'YELLOW' });
  await sandbox('/_sandbox/tokens/expires', { all: true, expires_in: 5 * 86400 + 3600 });
  await sandbox('/_sandbox/requests/clear', {});
  await Promise.all([page.waitForURL(/\?m=check_warnings$/), page.click('#check-now')]);
  const calls = (await sandbox('/_sandbox/requests')).requests.map((q) => q.endpoint);
  expect(calls.includes('debug_token') && calls.includes('phone'), 'Check now asked Meta');
  const send = await page.textContent('#health-can-send');
  expect(send.includes('No (BLOCKED)') && send.includes(WHY) && send.includes(FIX),
    "the card says the number is blocked, with Meta's reason and fix");
  expect((await page.textContent('#health-quality')).includes('Medium (yellow)'),
    'the quality is shown in words');
  expect((await page.textContent('#health-token')).includes('Expires in 5 days'),
    'the token expiry counts down');
  expect((await page.textContent('#health-last-check')).includes('just now'),
    'the last check was just now');
  await shot(page, 'checked-blocked');
  await page.locator('#health').screenshot({ path: join(env('OUT_DIR'), 'health-card.png') });

  await sandbox('/_sandbox/requests/clear', {});
  await Promise.all([page.waitForURL(/\?m=check_busy$/), page.click('#check-now')]);
  expect((await page.textContent('#flash')).includes('less than a minute ago'),
    'a second press within the minute is refused');
  expect((await sandbox('/_sandbox/requests')).requests.length === 0,
    'and asks Meta nothing');
  await shot(page, 'second-press-refused');
  expect(errors.length === 0, `no CSP violations (${errors.join('; ')})`);
  console.log('ok - health card flow');
} finally {
  await browser.close();
}
