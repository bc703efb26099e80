// The Embedded Signup popup (issue 10, item 3) in headless Chromium, against
// the running stack with [meta] config_id set and the sandbox's JS SDK
// stand-in as [meta] sdk_url: Connect opens the sandbox's dialog in a real
// popup, which posts WA_EMBEDDED_SIGNUP to this page; cancel and error stay
// on the page; finish lands on the phone page with the number preselected.
// Then the same Connect button with JavaScript disabled: the redirect flow,
// unchanged. A screenshot of every step goes to $OUT_DIR.
//
// env: BASE_URL, SANDBOX_URL, EMAIL, PASSWORD, SLUG, SLUG_NOJS, OUT_DIR
import { env, expect, launch, shooter } from './lib.mjs';

const BASE = env('BASE_URL'), SANDBOX = env('SANDBOX_URL');
const SLUG = env('SLUG'), SLUG_NOJS = env('SLUG_NOJS');
const PHONE2 = '106540352242923';

const shot = shooter('popup-');

async function signIn(page, slug) {
  await page.goto(`${BASE}/login`);
  await page.fill('#email', env('EMAIL'));
  await page.fill('#password', env('PASSWORD'));
  await Promise.all([page.waitForURL(/\/w\/[a-z0-9-]+\/settings\/whatsapp$/),
    page.click('button[type=submit]')]);
  await page.goto(`${BASE}/w/${slug}/settings/whatsapp`);
}

// Clicks Connect and returns Meta's (the stand-in's) popup, loaded.
async function openPopup(page) {
  const [popup] = await Promise.all([page.waitForEvent('popup'),
    page.click('#connect')]);
  await popup.waitForLoadState();
  await popup.waitForSelector('#es');
  return popup;
}

// The code exchanges Meta saw (POST /oauth/access_token).
async function exchanges() {
  const r = await fetch(`${SANDBOX}/_sandbox/requests?endpoint=access_token`);
  return (await r.json()).requests;
}

const browser = await launch();
const csp = [];
try {
  // -- With JavaScript: the popup ----------------------------------------
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  page.setDefaultTimeout(20000);
  page.on('console', (m) => {
    if (/Content Security Policy/.test(m.text())) csp.push(m.text());
  });
  await signIn(page, SLUG);
  await page.waitForSelector('#connect-form[data-popup-ready="1"]');
  expect(true, "the SDK loaded: Connect opens the popup");
  await shot(page, 'settings-sdk-ready');

  // Cancel on a chosen screen: a message here, nothing changes.
  let popup = await openPopup(page);
  expect(popup.url().startsWith(`${SANDBOX}/`) &&
    popup.url().includes('/dialog/embedded_signup?'),
    'Connect opened the Embedded Signup dialog in a popup');
  const q = new URL(popup.url()).searchParams;
  expect(q.get('response_type') === 'code' &&
    q.get('override_default_response_type') === 'true' &&
    q.get('config_id') && JSON.parse(q.get('extras')).sessionInfoVersion === '3',
  "FB.login got config_id, response_type 'code', override_default_response_type and extras");
  await shot(popup, 'popup-dialog');
  // A page of another origin that can reach ours (window.opener) forges
  // Meta's message: ignored, the attempt goes on.
  const other = BASE.replace('//127.0.0.1:', '//localhost:');
  const [forger] = await Promise.all([page.waitForEvent('popup'),
    page.evaluate((u) => { window.open(u, 'forger'); }, `${other}/login`)]);
  await forger.waitForLoadState();
  await forger.evaluate(() => window.opener.postMessage(JSON.stringify({
    type: 'WA_EMBEDDED_SIGNUP', event: 'CANCEL',
    data: { current_step: 'FORGED_STEP' } }), '*'));
  await page.waitForTimeout(500);
  expect(await page.isHidden('#signup-note'),
    'a WA_EMBEDDED_SIGNUP message from another origin is ignored');
  await forger.close();
  await popup.selectOption('#current_step', 'PHONE_NUMBER_SETUP');
  await Promise.all([popup.waitForEvent('close'), popup.click('#cancel')]);
  await page.waitForSelector('#signup-note:not([hidden])');
  let note = await page.textContent('#signup-note');
  expect(note.includes('closed Meta') && note.includes('PHONE_NUMBER_SETUP') &&
    !note.includes('FORGED'),
    `the cancel step is shown (${note})`);
  expect((await page.textContent('#connection-status')).includes('Not connected'),
    'cancel changed nothing');
  await shot(page, 'popup-cancelled');

  // A reported error: Meta's message, as text.
  popup = await openPopup(page);
  await Promise.all([popup.waitForEvent('close'), popup.click('#report-error')]);
  await page.waitForFunction(() =>
    document.getElementById('signup-note').textContent.includes('Meta could not'));
  note = await page.textContent('#signup-note');
  expect(note.includes('verified name'), `Meta's error message is shown (${note})`);
  expect((await page.textContent('#connection-status')).includes('Not connected'),
    'the error changed nothing');
  expect((await exchanges()).length === 0, 'no code was exchanged');
  await shot(page, 'popup-error');

  // Finish with a number: the phone page, that number preselected.
  popup = await openPopup(page);
  await popup.selectOption('#phone_number_id', PHONE2);
  await shot(popup, 'popup-choose-number');
  await Promise.all([
    page.waitForURL(new RegExp(`/phone-numbers\\?phone_number_id=${PHONE2}$`)),
    popup.click('#finish')]);
  expect(await page.isChecked(`input[name=phone_number_id][value="${PHONE2}"]`),
    "the popup's number is preselected");
  await shot(page, 'popup-phone-preselected');
  await page.fill('#pin', '123456');
  await Promise.all([page.waitForURL(/\?m=connected(#.*)?$/),
    page.click('#use-number')]);
  expect((await page.textContent('#connection-status')).includes('Connected'),
    'connected through the popup');
  expect((await page.textContent('#phone')).includes('+1 555 0101'),
    "the popup's number sends");
  await shot(page, 'popup-connected');
  const ex = await exchanges();
  expect(ex.length === 1 && !JSON.stringify(ex[0]).includes('redirect_uri'),
    'the code was exchanged once, without redirect_uri');
  await ctx.close();

  // -- Without JavaScript: the redirect flow, unchanged ------------------
  const nojs = await browser.newContext({ javaScriptEnabled: false });
  const p2 = await nojs.newPage();
  p2.setDefaultTimeout(20000);
  await signIn(p2, SLUG_NOJS);
  await shot(p2, 'nojs-settings');
  await Promise.all([p2.waitForURL(`${SANDBOX}/**/dialog/oauth?**`),
    p2.click('#connect')]);
  expect(p2.url().includes('/dialog/oauth?'), 'without JavaScript, Connect redirects to the dialog');
  await shot(p2, 'nojs-meta-dialog');
  await Promise.all([p2.waitForURL(/\/settings\/whatsapp\/phone-numbers(#.*)?$/),
    p2.click('#continue')]);
  await p2.check('input[name=phone_number_id][value="106540352242922"]');
  await p2.fill('#pin', '123456');
  await Promise.all([p2.waitForURL(/\?m=connected(#.*)?$/), p2.click('#use-number')]);
  expect((await p2.textContent('#connection-status')).includes('Connected'),
    'connected without JavaScript');
  await shot(p2, 'nojs-connected');
  await nojs.close();
  expect(csp.length === 0, `no Content-Security-Policy violations (${csp.join('; ')})`);
  console.log('ok - popup and no-JS paths');
} finally {
  await browser.close();
}
