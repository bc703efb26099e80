// Clicks through the whole connection flow in headless Chromium as a
// merchant would, against the running stack and the Meta sandbox, and
// saves a screenshot of every page under $OUT_DIR.
//
// env: BASE_URL, SANDBOX_URL, EMAIL, PASSWORD, SLUG, OUT_DIR
import { env, expect, launch, shooter } from './lib.mjs';

const BASE = env('BASE_URL'), SANDBOX = env('SANDBOX_URL');
const SLUG = env('SLUG');

const shot = shooter();

const browser = await launch();
const csp = [];
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(20000);
  page.on('console', (m) => {
    if (/Content Security Policy/.test(m.text())) csp.push(m.text());
  });

  // Sign in.
  await page.goto(`${BASE}/login`);
  await shot(page, 'login');
  await page.fill('#email', env('EMAIL'));
  await page.fill('#password', env('PASSWORD'));
  await Promise.all([page.waitForURL(new RegExp(`/w/${SLUG}/settings/whatsapp$`)),
    page.click('button[type=submit]')]);
  expect((await page.textContent('#connection-status')).includes('Not connected'),
    'a new workspace is not connected');
  await shot(page, 'settings-not-connected');

  // Connect → Meta's dialog → Continue.
  await Promise.all([page.waitForURL(`${SANDBOX}/**`), page.click('#connect')]);
  expect((await page.content()).includes('whatsapp_business_management'),
    "Meta's dialog lists the permissions");
  await shot(page, 'meta-dialog');
  await Promise.all([page.waitForURL(/\/settings\/whatsapp\/phone-numbers(#.*)?$/),
    page.click('#continue')]);
  await shot(page, 'phone-numbers');

  // Pick a number and enter its PIN.
  await page.check('input[name=phone_number_id][value="106540352242922"]');
  await page.fill('#pin', '123456');
  await Promise.all([page.waitForURL(/\?m=connected(#.*)?$/),
    page.click('#use-number')]);
  expect((await page.textContent('#connection-status')).includes('Connected'),
    'the workspace is connected');
  expect((await page.textContent('#phone')).includes('+1 555 0100'),
    'the selected number is shown');
  await shot(page, 'connected');

  // Test message.
  await page.fill('#to', '4915112345678');
  await Promise.all([page.waitForURL(/\?m=test_sent(#.*)?$/), page.click('#send-test')]);
  expect((await page.textContent('#last-test')).includes('wamid.'),
    "Meta's message id is shown");
  await shot(page, 'test-message-sent');

  // Meta revokes the token; Verify notices.
  const rv = await fetch(`${SANDBOX}/_sandbox/tokens/revoke`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ all: true }),
  });
  expect(rv.ok, 'the sandbox revoked the token');
  await Promise.all([page.waitForURL(/\?m=needs_reconnect(#.*)?$/), page.click('#verify')]);
  expect(await page.isVisible('#reconnect-banner'), 'the reconnect banner shows');
  await shot(page, 'needs-reconnect');

  // Reconnect: the same flow; the number is kept.
  await Promise.all([page.waitForURL(`${SANDBOX}/**`), page.click('#reconnect')]);
  await shot(page, 'meta-dialog-reconnect');
  await Promise.all([page.waitForURL(/\?m=reconnected(#.*)?$/),
    page.click('#continue')]);
  expect((await page.textContent('#connection-status')).includes('Connected'),
    'connected again');
  expect((await page.textContent('#phone')).includes('+1 555 0100'),
    'the number was kept');
  await shot(page, 'reconnected');
  expect(csp.length === 0, `no Content-Security-Policy violations (${csp.join('; ')})`);
} finally {
  await browser.close();
}
