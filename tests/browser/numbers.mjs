// Issue 10, items 1 and 2, in headless Chromium as a merchant would: a
// workspace with several numbers (add, make default, remove with and
// without deregistering), a number Meta has not confirmed (code by SMS,
// then registered) and each register refusal with its message. Saves a
// screenshot of every page under $OUT_DIR.
//
// env: BASE_URL, SANDBOX_URL, EMAIL, PASSWORD, SLUG, OUT_DIR
import { env, expect, launch, sandbox, shooter } from './lib.mjs';

const BASE = env('BASE_URL'), SLUG = env('SLUG');
const S = `${BASE}/w/${SLUG}/settings/whatsapp`;
const shot = shooter();

const PHONE = '106540352242922', PHONE2 = '106540352242923';
const PHONE_EU = '106540352242924', UNVERIFIED = '106540352242925';
const NAME_PENDING = '106540352242926', ELSEWHERE = '106540352242927';
const WABA = '102290129340398';

async function registers(pid) {
  const r = await sandbox('/_sandbox/requests?endpoint=register');
  return r.requests.filter((q) => q.path.split('/')[2] === pid).length;
}

// On the numbers page: pick one, maybe a PIN, submit; lands on urlRe.
async function add(page, pid, pin, urlRe, setPin = false) {
  await page.goto(`${S}/phone-numbers`);
  await page.check(`input[name=phone_number_id][value="${pid}"]`);
  if (pin) await page.fill('#pin', pin);
  if (setPin) await page.check('#set-pin');
  await Promise.all([page.waitForURL(urlRe), page.click('#use-number')]);
}

const browser = await launch();
const csp = [];
try {
  await sandbox('/_sandbox/reset', {});
  const page = await browser.newPage();
  page.setDefaultTimeout(20000);
  page.on('console', (m) => {
    if (/Content Security Policy/.test(m.text())) csp.push(m.text());
  });

  await page.goto(`${BASE}/login`);
  await page.fill('#email', env('EMAIL'));
  await page.fill('#password', env('PASSWORD'));
  await Promise.all([page.waitForURL(new RegExp(`/w/${SLUG}/settings/whatsapp$`)),
    page.click('button[type=submit]')]);

  // Connect, sharing every kind of number (the sandbox's all_states).
  await Promise.all([page.waitForURL(`${env('SANDBOX_URL')}/**`), page.click('#connect')]);
  await page.selectOption('#scenario', 'all_states');
  await Promise.all([page.waitForURL(/\/phone-numbers(#.*)?$/), page.click('#continue')]);
  await page.check(`input[name=waba_id][value="${WABA}"]`);
  await Promise.all([page.waitForURL(/\/phone-numbers$/), page.click('#choose-waba')]);
  await shot(page, 'numbers-of-every-granted-waba');
  expect((await page.content()).includes('business account 102290129340400'),
    "another granted WABA's numbers are offered, named by their WABA");

  // The first number, then a second one.
  await add(page, PHONE, '123456', /\?m=connected$/);
  await add(page, PHONE2, '123456', /\?m=phone_added$/);
  expect(await page.isVisible(`#number-${PHONE2}`), 'both numbers are listed');
  expect((await page.textContent(`#number-${PHONE}`)).includes('default sender'),
    'the first one is the default sender');
  expect((await page.textContent('#numbers')).includes('1,000 customers a day'),
    'the messaging limit is shown in words');
  await shot(page, 'two-numbers');

  // Make the second the default.
  await Promise.all([page.waitForURL(/\?m=default_changed$/),
    page.click(`#default-${PHONE2}`)]);
  expect((await page.textContent(`#number-${PHONE2}`)).includes('default sender'),
    'the second one is the default now');
  expect((await page.textContent('#phone')).includes('+1 555 0101'),
    'the connection sends from it');
  await shot(page, 'second-is-default');

  // Remove it, asking to deregister: a confirmation first.
  await page.check(`#deregister-${PHONE2}`);
  await Promise.all([page.waitForURL(/\/remove$/), page.click(`#remove-${PHONE2}`)]);
  expect((await page.textContent('h1')).includes('Deregister this number?'),
    'deregistering is confirmed first');
  await shot(page, 'confirm-deregister');
  await Promise.all([page.waitForURL(/\?m=phone_deregistered$/),
    page.click('#confirm-deregister')]);
  expect(!(await page.isVisible(`#number-${PHONE2}`)), 'the number is gone');
  expect((await page.textContent(`#number-${PHONE}`)).includes('default sender'),
    'the remaining number is the default again');
  await shot(page, 'deregistered');

  // A number Meta has not confirmed: its code first, then registered.
  await add(page, UNVERIFIED, null, /\?m=needs_code$/);
  expect((await page.textContent(`#number-${UNVERIFIED}`)).includes(
    'Needs its verification code'), 'the unverified number waits for its code');
  expect(await registers(UNVERIFIED) === 0, 'no register call before the code');
  await shot(page, 'needs-code');
  await Promise.all([page.waitForURL(/\?m=code_sent$/),
    page.click(`#code-sms-${UNVERIFIED}`)]);
  const st = await sandbox('/_sandbox/state');
  const code = st.numbers[UNVERIFIED].verification.code;
  await page.fill(`#code-${UNVERIFIED}`, code);
  await page.fill(`#pin-${UNVERIFIED}`, '123456');
  await shot(page, 'code-entered');
  await Promise.all([page.waitForURL(/\?m=phone_added$/),
    page.click(`#verify-code-${UNVERIFIED}`)]);
  expect((await page.textContent(`#number-${UNVERIFIED}`)).includes('Sending'),
    'verified and registered');
  await shot(page, 'verified-registered');

  // Each register refusal, in words.
  await add(page, NAME_PENDING, '123456', /\?m=pending_display_name$/);
  expect((await page.textContent('#flash')).includes('display name'),
    'a display name in review: the number waits');
  await shot(page, 'pending-display-name');
  await add(page, ELSEWHERE, '123456', /\/phone-numbers$/);
  expect((await page.textContent('#form-error')).includes(
    'still registered to another WhatsApp account'),
    'a number on another account: say where to free it');
  await shot(page, 'registered-elsewhere');
  await sandbox('/_sandbox/config', { pins: { [PHONE_EU]: '111111' } });
  await add(page, PHONE_EU, '123456', /\/phone-numbers$/);
  expect((await page.textContent('#form-error')).includes('PIN is not right'),
    'a wrong PIN: say so, offer a new one');
  await shot(page, 'pin-mismatch');
  await add(page, PHONE_EU, '123456', /\?m=phone_added$/, true);
  expect((await page.textContent(`#number-${PHONE_EU}`)).includes('Sending'),
    'a new PIN set, and the number registered');
  await sandbox('/_sandbox/numbers/update',
    { phone_number_id: ELSEWHERE, in_use_elsewhere: false });
  await sandbox('/_sandbox/config', { register_limit: 0 });
  await add(page, ELSEWHERE, '123456', /\?m=register_limit$/);
  expect((await page.textContent(`#number-${ELSEWHERE}`)).includes('Try again after'),
    'too many attempts: when to try again');
  await shot(page, 'register-limit');

  // Meta approves the display name: Verify registers the waiting number.
  await sandbox('/_sandbox/config', { register_limit: null });
  await sandbox('/_sandbox/numbers/update',
    { phone_number_id: NAME_PENDING, name_status: 'APPROVED' });
  await Promise.all([page.waitForURL(/\?m=verified_registered$/), page.click('#verify')]);
  expect((await page.textContent(`#number-${NAME_PENDING}`)).includes('Sending'),
    'registered once its display name was approved');
  await shot(page, 'display-name-approved');
  expect(csp.length === 0, `no Content-Security-Policy violations (${csp.join('; ')})`);
} finally {
  await browser.close();
}
