// Issue 10, item 4, in headless Chromium: a merchant whose number is on
// the WhatsApp Business app connects it through the Embedded Signup popup
// (featureType whatsapp_business_app_onboarding, the sandbox's SDK
// stand-in): the number is added without a PIN and without a register
// call, its contacts and then its chat history sync once each, and a
// second sync is refused in plain words. Screenshots under $OUT_DIR.
//
// env: BASE_URL, SANDBOX_URL, EMAIL, PASSWORD, SLUG, OUT_DIR
import { env, expect, launch, sandbox, shooter } from './lib.mjs';

const BASE = env('BASE_URL'), SLUG = env('SLUG');
const S = `${BASE}/w/${SLUG}/settings/whatsapp`;
const COEX = '106540352242928';
const shot = shooter('coexistence-');

async function calls(endpoint) {
  return (await sandbox(`/_sandbox/requests?endpoint=${endpoint}`)).requests;
}

const browser = await launch();
try {
  await sandbox('/_sandbox/reset', {});
  const page = await (await browser.newContext()).newPage();
  page.setDefaultTimeout(20000);
  await page.goto(`${BASE}/login`);
  await page.fill('#email', env('EMAIL'));
  await page.fill('#password', env('PASSWORD'));
  await Promise.all([page.waitForURL(new RegExp(`/w/${SLUG}/settings/whatsapp$`)),
    page.click('button[type=submit]')]);
  await page.waitForSelector('#connect-form[data-popup-ready="1"]');
  expect(await page.isVisible('#connect-app'),
    'the WhatsApp Business app button shows once the popup can open');
  await shot(page, 'settings');

  const [popup] = await Promise.all([page.waitForEvent('popup'),
    page.click('#connect-app')]);
  await popup.waitForLoadState();
  await popup.waitForSelector('#es');
  const extras = JSON.parse(new URL(popup.url()).searchParams.get('extras'));
  expect(extras.featureType === 'whatsapp_business_app_onboarding',
    'the popup was opened for the WhatsApp Business app');
  await shot(popup, 'popup');
  await Promise.all([
    page.waitForURL(new RegExp(`/phone-numbers\\?phone_number_id=${COEX}$`)),
    popup.click('#finish')]);
  expect(await page.isChecked(`input[name=phone_number_id][value="${COEX}"]`),
    "the app's number is preselected");
  expect((await page.content()).includes('no PIN needed'),
    'the page says the app number needs no PIN');
  await shot(page, 'number-preselected');
  await Promise.all([page.waitForURL(/\?m=connected_app$/), page.click('#use-number')]);
  expect((await calls('register')).length === 0, 'no register call');
  expect((await page.textContent(`#number-${COEX}`)).includes(
    'also on the WhatsApp Business app'), 'shown as also on the app');
  await shot(page, 'connected');

  // Contacts, then history; each once.
  await Promise.all([page.waitForURL(/\?m=/), page.click(`#sync-contacts-${COEX}`)]);
  await page.waitForSelector(`#synced-contacts-${COEX}`);
  expect((await calls('smb_app_data')).length === 1, 'one contacts sync call');
  await shot(page, 'contacts-synced');
  await Promise.all([page.waitForURL(/\?m=/), page.click(`#sync-history-${COEX}`)]);
  await page.waitForSelector(`#synced-history-${COEX}`);
  expect((await calls('smb_app_data')).length === 2, 'one history sync call');
  expect(!(await page.isVisible(`#sync-contacts-${COEX}`)) &&
    !(await page.isVisible(`#sync-history-${COEX}`)), 'no sync offered twice');
  await shot(page, 'history-synced');

  // A second contacts sync, as a stale page would post it: refused.
  const csrf = await page.getAttribute('input[name=csrf_token]', 'value');
  const r = await page.request.post(`${S}/phone-numbers/${COEX}/sync`, {
    form: { csrf_token: csrf, sync_type: 'smb_app_state_sync' },
    maxRedirects: 0,
  });
  expect(r.status() === 409, `a second sync is refused (${r.status()})`);
  expect((await r.text()).includes('already'), 'and says it already ran');
  expect((await calls('smb_app_data')).length === 2, 'no second call to Meta');
  await page.setContent(await r.text());
  await shot(page, 'second-sync-refused');
  expect(true, 'coexistence onboarding and sync');
} finally {
  await browser.close();
}
