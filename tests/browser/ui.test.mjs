// Browser test of the event store web UI in headless Debian chromium (playwright-core,
// no browser download): the guide's walkthrough. Open the server, sign in as
// admin/changeit, go to Streams, find contact-{id}, see every event of it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { chromium } from 'playwright-core';
import { startEventStore } from './server.mjs';

const CHROMIUM = process.env.DT_CHROMIUM || '/usr/bin/chromium';
const AUTH = 'Basic ' + Buffer.from('admin:changeit').toString('base64');

let server, base, profileDir, browser;

async function post(stream, events) {
  const res = await fetch(base + '/streams/' + stream, {
    method: 'POST',
    headers: { Authorization: AUTH, 'Content-Type': 'application/vnd.eventstore.events+json' },
    body: JSON.stringify(events),
  });
  assert.equal(res.status, 201);
}

before(async () => {
  profileDir = mkdtempSync(join(tmpdir(), 'dt-ui-profile-'));
  server = await startEventStore();
  base = server.base;
  // A fresh profile folder per run (playwright passes it as --user-data-dir).
  browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  rmSync(profileDir, { recursive: true, force: true });
});

test('the guide walkthrough: sign in, find contact-{id}, see every event', async () => {
  const id = randomUUID();
  const stream = `contact-${id}`;
  // 25 events: more than one page, so paging is exercised too.
  const events = [];
  for (let i = 0; i < 25; i++) {
    events.push({
      eventId: randomUUID(),
      eventType: i === 0 ? 'ContactCreated' : 'ContactUpdated',
      data: { id, name: `Name ${i}`, revision: i },
      metadata: { request_id: `req-${i}` },
    });
  }
  await post(stream, events);
  // Other streams written later, so the list has to be searched.
  for (let i = 0; i < 5; i++) await post(`transaction-${randomUUID()}`, [{ eventId: randomUUID(), eventType: 'TransactionCreated', data: { i } }]);

  const page = await browser.newPage();
  await page.goto(base + '/');
  await page.fill('#username', 'admin');
  await page.fill('#password', 'wrong');
  await page.click('#sign-in');
  await page.waitForSelector('#login-error:has-text("Wrong username or password")');

  await page.fill('#password', 'changeit');
  await page.click('#sign-in');
  await page.waitForSelector('#streams:not([hidden])');
  // The section shows before its rows arrive: wait for them.
  await page.waitForFunction(() => document.querySelectorAll('#streams-table tbody tr').length >= 6);
  // Most recently written first: the transaction streams come before the contact.
  const names = await page.$$eval('#streams-table tbody .stream-link', (as) => as.map((a) => a.textContent));
  assert.ok(names.length >= 6, 'all streams listed: ' + names.join(','));
  assert.ok(names.indexOf(stream) > names.findIndex((n) => n.startsWith('transaction-')));
  const counts = await page.$$eval('#streams-table tbody tr', (rows) => rows.map((r) => [r.children[0].textContent, r.children[1].textContent]));
  assert.deepEqual(counts.find(([n]) => n === stream), [stream, '25']);

  await page.fill('#search', 'contact-');
  await page.click('#search-form button[type=submit]');
  await page.waitForFunction(() => document.querySelectorAll('#streams-table tbody tr').length === 1);
  await page.click(`text=${stream}`);
  await page.waitForSelector('#events:not([hidden]) .event');

  const seen = new Map();
  for (let pageNo = 0; pageNo < 5; pageNo++) {
    const items = await page.$$eval('#events-list .event', (divs) => divs.map((d) => ({
      title: d.querySelector('h2').textContent,
      data: d.querySelector('.event-data').textContent,
      metadata: d.querySelector('.event-metadata')?.textContent || '',
    })));
    for (const it of items) seen.set(it.title, it);
    if (await page.isDisabled('#older')) break;
    const first = items[0].title;
    await page.click('#older');
    await page.waitForFunction((t) => document.querySelector('#events-list .event h2')?.textContent !== t, first);
  }
  assert.equal(seen.size, 25, 'every event of the stream is shown exactly once');
  for (let i = 0; i < 25; i++) {
    const type = i === 0 ? 'ContactCreated' : 'ContactUpdated';
    const it = seen.get(`#${i} ${type}`);
    assert.ok(it, `event ${i} shown`);
    const data = JSON.parse(it.data);
    assert.equal(data.revision, i);
    assert.equal(data.id, id);
    assert.ok(it.data.includes('\n  "name"'), 'data is pretty-printed');
    assert.equal(JSON.parse(it.metadata).request_id, `req-${i}`);
  }

  // $all shows events of every stream, newest first.
  await page.click('#nav-all');
  await page.waitForSelector('#events-title:has-text("$all")');
  // The title changes before the page of events arrives: wait for entries of $all.
  await page.waitForFunction(() => document.querySelector('#events-list .event h2')?.textContent.includes(' in '));
  const allTitles = await page.$$eval('#events-list .event h2', (hs) => hs.map((h) => h.textContent));
  assert.ok(allTitles[0].includes('TransactionCreated in transaction-'), allTitles[0]);
  await page.close();
});
