// A third-party EventStoreDB HTTP client (npm geteventstore-promise, its HTTPClient that
// speaks AtomPub over HTTP) against dt-eventstore, unchanged: writes, reads both ways,
// paging through a whole stream, existence checks, soft and hard deletes, ping.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { startEventStore } from './server.mjs';

const require = createRequire(import.meta.url);
const { HTTPClient } = require('geteventstore-promise');

let server, client;

before(async () => {
  server = await startEventStore();
  client = new HTTPClient({ hostname: '127.0.0.1', port: server.port, credentials: { username: 'admin', password: 'changeit' } });
});

after(async () => {
  if (server) await server.stop();
});

test('ping', async () => {
  const pong = await client.ping();
  assert.equal(pong.msg, 'PongMessage');
});

test('write events, read them forward and backward', async () => {
  const stream = `contact-${randomUUID()}`;
  await client.writeEvent(stream, 'ContactCreated', { name: 'Ann' }, { request_id: 'r1' });
  await client.writeEvents(stream, [
    { eventId: randomUUID(), eventType: 'ContactUpdated', data: { name: 'Bob' } },
    { eventId: randomUUID(), eventType: 'ContactUpdated', data: { name: 'Cy' } },
  ]);
  assert.equal(await client.checkStreamExists(stream), true);
  assert.equal(await client.checkStreamExists(`missing-${randomUUID()}`), false);

  const forward = await client.getEvents(stream);
  assert.deepEqual(forward.map((e) => e.data.name), ['Ann', 'Bob', 'Cy']);
  assert.deepEqual(forward.map((e) => e.eventNumber), [0, 1, 2]);
  assert.equal(forward[0].eventType, 'ContactCreated');
  assert.ok(forward[0].created, 'created timestamp mapped from updated');

  const backward = await client.getEvents(stream, undefined, 2, 'backward');
  assert.deepEqual(backward.map((e) => e.data.name), ['Cy', 'Bob']);

  const page = await client.readEventsForward(stream, 1, 10);
  assert.equal(page.isEndOfStream, true);
  assert.deepEqual(page.events.map((e) => e.eventNumber), [1, 2]);
});

test('expected version is enforced', async () => {
  const stream = `tx-${randomUUID()}`;
  await client.writeEvent(stream, 'TransactionCreated', { amount: 5 }, null, { expectedVersion: -1 });
  await assert.rejects(client.writeEvent(stream, 'TransactionCreated', { amount: 6 }, null, { expectedVersion: -1 }),
    (err) => err.response && err.response.status === 400);
  await client.writeEvent(stream, 'TransactionUpdated', { amount: 7 }, null, { expectedVersion: 0 });
  const events = await client.getEvents(stream);
  assert.deepEqual(events.map((e) => e.data.amount), [5, 7]);
});

test('getAllStreamEvents pages through a long stream', async () => {
  const stream = `long-${randomUUID()}`;
  const batch = [];
  for (let i = 0; i < 250; i++) batch.push({ eventId: randomUUID(), eventType: 'Tick', data: { i } });
  await client.writeEvents(stream, batch);
  const all = await client.getAllStreamEvents(stream, 100);
  assert.equal(all.length, 250);
  all.forEach((e, i) => assert.equal(e.data.i, i));
});

test('soft and hard deletes', async () => {
  const soft = `soft-${randomUUID()}`;
  await client.writeEvent(soft, 'A', { a: 1 });
  await client.deleteStream(soft);
  assert.equal(await client.checkStreamExists(soft), false);

  const hard = `hard-${randomUUID()}`;
  await client.writeEvent(hard, 'A', { a: 1 });
  await client.deleteStream(hard, true);
  await assert.rejects(client.checkStreamExists(hard), (err) => err.response && err.response.status === 410);
  await assert.rejects(client.writeEvent(hard, 'B', { b: 2 }), (err) => err.response && err.response.status === 410);
});

test('data sent as a JSON string comes back as the object', async () => {
  const stream = `strdata-${randomUUID()}`;
  await client.writeEvents(stream, [
    { eventId: randomUUID(), eventType: 'ContactCreated', data: JSON.stringify({ name: 'Dee' }) },
  ]);
  const [event] = await client.getEvents(stream);
  assert.deepEqual(event.data, { name: 'Dee' });
  assert.equal(event.isJson, true);
});

test('backward pages from a number below the head are not the head of the stream', async () => {
  const stream = `pages-${randomUUID()}`;
  const batch = [];
  for (let i = 0; i < 5; i++) batch.push({ eventId: randomUUID(), eventType: 'Tick', data: { i } });
  await client.writeEvents(stream, batch);
  const page = await client.readEventsBackward(stream, 3, 2);
  assert.deepEqual(page.events.map((e) => e.eventNumber), [3, 2]);
  assert.equal(page.isEndOfStream, false);
  const head = await client.readEventsBackward(stream, 'head', 2);
  assert.equal(head.isEndOfStream, true);
});
