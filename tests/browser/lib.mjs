// What every browser flow shares: its environment, screenshots, checks
// that print "ok - ..." (the Python side looks for them), the sandbox's
// control API, and Debian's Chromium launched the same way.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const env = (k) => {
  if (!process.env[k]) throw new Error(`${k} is not set`);
  return process.env[k];
};

// Screenshots numbered in order, under $OUT_DIR, names prefixed.
export function shooter(prefix = '') {
  const out = env('OUT_DIR');
  let step = 0;
  mkdirSync(out, { recursive: true });
  return async function shot(page, name) {
    step += 1;
    const file = join(out, `${prefix}${String(step).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    console.log(`screenshot ${file}`);
  };
}

export function expect(cond, what) {
  if (!cond) throw new Error(`expected: ${what}`);
  console.log(`ok - ${what}`);
}

// The sandbox's control API: GET without a body, POST JSON with one.
export async function sandbox(path, body) {
  const r = await fetch(`${env('SANDBOX_URL')}${path}`, body === undefined ? {} : {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`sandbox ${path}: ${r.status}`);
  return r.json();
}

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update',
      '--disable-sync'],
  });
}
