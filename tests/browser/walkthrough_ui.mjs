// The guide's "View events in EventStore" steps in headless Debian chromium, against a
// running event store (used by tests/first_run/first_run_test.sh):
//   node walkthrough_ui.mjs <base url> <stream> <event type> <text in the event data>
// Opens the base URL, signs in as admin / changeit, goes to Streams, searches for the
// stream, opens it and checks that it shows exactly one event, of that type, with that
// text in its data. Exits 0 on success; prints what it saw and exits 1 otherwise.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [base, stream, type, text] = process.argv.slice(2);
if (!text) {
  console.error('usage: walkthrough_ui.mjs <base url> <stream> <event type> <text>');
  process.exit(2);
}
const profileDir = mkdtempSync(join(tmpdir(), 'dt-walkthrough-profile-'));
let browser;
let failure = null;
try {
  browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: process.env.DT_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage();
  page.setDefaultTimeout(20000);
  await page.goto(base + '/');                       // 1. Open http://localhost:2113
  await page.fill('#username', 'admin');              // 2. Login: admin / changeit
  await page.fill('#password', 'changeit');
  await page.click('#sign-in');
  await page.waitForSelector('#streams:not([hidden])'); // 3. Navigate to "Streams"
  await page.fill('#search', stream);                 // 4. Find stream contact-{id}
  await page.click('#search-form button[type=submit]');
  await page.waitForFunction((s) => [...document.querySelectorAll('#streams-table tbody .stream-link')]
    .some((a) => a.textContent === s), stream);
  await page.click(`#streams-table tbody .stream-link:text-is("${stream}")`);
  await page.waitForSelector('#events:not([hidden]) .event'); // 5. View its events
  const events = await page.$$eval('#events-list .event', (divs) => divs.map((d) => ({
    title: d.querySelector('h2').textContent,
    data: d.querySelector('.event-data').textContent,
  })));
  const title = await page.textContent('#events-title');
  if (!title.includes(stream)) failure = `the page title is "${title}", not the stream's`;
  else if (events.length !== 1) failure = `expected 1 event, the page shows ${events.length}: ${JSON.stringify(events)}`;
  else if (events[0].title !== `#0 ${type}`) failure = `expected "#0 ${type}", saw "${events[0].title}"`;
  else if (!events[0].data.includes(text)) failure = `the event data does not contain "${text}": ${events[0].data}`;
  else console.log(`the web UI shows ${stream}: ${events[0].title}`);
} catch (e) {
  failure = String(e && e.stack || e);
} finally {
  if (browser) await browser.close();
  rmSync(profileDir, { recursive: true, force: true });
}
if (failure) {
  console.error('web UI check failed: ' + failure);
  process.exit(1);
}
