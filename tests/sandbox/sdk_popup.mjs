// Drives the sandbox's JS SDK stand-in in headless Chromium the way an app
// page uses Meta's: FB.init, FB.login with Embedded Signup's options, a
// message listener for WA_EMBEDDED_SIGNUP. The app page is served here, on
// another origin than the sandbox, so postMessage crosses origins as it
// does with Meta. Run by test_meta_sandbox.py (SdkPopupTest), which checks
// the printed results and exchanges the codes.
//
// env: SANDBOX_URL, APP_ID, PLAYWRIGHT_DIR (a directory with
// node_modules/playwright-core), CHROMIUM (default /usr/bin/chromium)
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import { join } from 'node:path';

const env = (k) => {
  if (!process.env[k]) throw new Error(`${k} is not set`);
  return process.env[k];
};
const SANDBOX = env('SANDBOX_URL'), APP_ID = env('APP_ID');
const require = createRequire(join(env('PLAYWRIGHT_DIR'), 'package.json'));
const { chromium } = require('playwright-core');

// The merchant's page: what an app's static/ script does, inline here.
const appPage = (featureType) => `<!doctype html><html><head><meta charset="utf-8">
<title>app</title></head><body><button id="launch">Connect</button><script>
window.__events = []; window.__login = null;
window.addEventListener('message', function (ev) {
  if (ev.origin !== ${JSON.stringify(new URL(SANDBOX).origin)}) return;
  if (typeof ev.data !== 'string') return;  /* the SDK's own messages */
  try {
    var d = JSON.parse(ev.data);
    if (d.type === 'WA_EMBEDDED_SIGNUP') window.__events.push(d);
  } catch (e) {}
});
window.fbAsyncInit = function () {
  FB.init({ appId: ${JSON.stringify(APP_ID)}, autoLogAppEvents: true, xfbml: true,
            version: 'v25.0' });
  window.__ready = true;
};
document.getElementById('launch').addEventListener('click', function () {
  FB.login(function (response) {
    window.__login = { response: response, events: window.__events.length };
  }, { config_id: '987654321', response_type: 'code',
       override_default_response_type: true,
       extras: { setup: {}, featureType: ${JSON.stringify(featureType)},
                 sessionInfoVersion: '3' } });
});
</script><script async defer crossorigin="anonymous"
 src="${SANDBOX}/sdk.js"></script></body></html>`;

const server = createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end(appPage(u.searchParams.get('featureType') || ''));
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const APP = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

// One flow: open the app page, click Connect, act in the popup, return
// what the page saw (session events and the FB.login response).
async function flow(name, featureType, inPopup) {
  const page = await browser.newPage();
  try {
    await page.goto(`${APP}/?featureType=${encodeURIComponent(featureType)}`);
    await page.waitForFunction(() => window.__ready === true);
    const [popup] = await Promise.all([page.waitForEvent('popup'), page.click('#launch')]);
    await popup.waitForLoadState();
    await inPopup(popup);
    await page.waitForFunction(() => window.__login !== null, null, { timeout: 15000 });
    const seen = await page.evaluate(() => ({ events: window.__events, login: window.__login }));
    console.log(JSON.stringify({ name, ...seen }));
  } finally {
    await page.close();
  }
}

try {
  await flow('finish', '', async (popup) => {
    await popup.selectOption('#phone_number_id', '106540352242923');
    await popup.click('#finish');
  });
  await flow('coexistence', 'whatsapp_business_app_onboarding', async (popup) => {
    await popup.click('#finish');
  });
  await flow('only_waba', '', async (popup) => {
    await popup.click('#finish-only-waba');
  });
  await flow('cancel', '', async (popup) => {
    await popup.selectOption('#current_step', 'PERMISSIONS');
    await popup.click('#cancel');
  });
  // The merchant closes the popup with its X before finishing.
  await flow('closed', '', async (popup) => {
    await popup.close();
  });
} finally {
  await browser.close();
  server.close();
}
