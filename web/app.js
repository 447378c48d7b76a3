// The event store web UI: sign in, streams (most recently written first, with search),
// a stream's events page by page, and $all. It uses the server's own HTTP API.
'use strict';

const PAGE = 20;
const state = { auth: sessionStorage.getItem('dt-auth') || '', user: sessionStorage.getItem('dt-user') || '' };

const $ = (id) => document.getElementById(id);

function show(section) {
  for (const id of ['login', 'streams', 'events']) $(id).hidden = id !== section;
  $('nav').hidden = section === 'login';
  $('who').textContent = state.user ? 'Signed in as ' + state.user : '';
}

async function api(path, accept) {
  const res = await fetch(path, {
    headers: {
      Authorization: state.auth,
      Accept: accept || 'application/vnd.eventstore.atom+json',
      'X-Requested-With': 'XMLHttpRequest',
    },
  });
  if (res.status === 401) {
    signOut('Your session ended: please sign in again.');
    throw new Error('unauthorized');
  }
  return res;
}

function signOut(message) {
  state.auth = '';
  state.user = '';
  sessionStorage.removeItem('dt-auth');
  sessionStorage.removeItem('dt-user');
  $('login-error').textContent = message || '';
  show('login');
}

async function signIn(event) {
  event.preventDefault();
  const user = $('username').value.trim();
  const auth = 'Basic ' + btoa(unescape(encodeURIComponent(user + ':' + $('password').value)));
  const res = await fetch('/web/api/streams?limit=1', {
    headers: { Authorization: auth, 'X-Requested-With': 'XMLHttpRequest' },
  });
  if (res.status === 401) {
    $('login-error').textContent = 'Wrong username or password.';
    return;
  }
  if (!res.ok) {
    $('login-error').textContent = 'The server answered ' + res.status + '.';
    return;
  }
  state.auth = auth;
  state.user = user;
  sessionStorage.setItem('dt-auth', auth);
  sessionStorage.setItem('dt-user', user);
  $('login-error').textContent = '';
  if (location.hash === '#/streams') route(); else location.hash = '#/streams';
}

// ------------------------------------------------------------------ streams list

let listOffset = 0;

async function loadStreams(append) {
  if (!append) listOffset = 0;
  const q = new URLSearchParams({ search: $('search').value.trim(), offset: listOffset, limit: 50 });
  if ($('show-system').checked) q.set('system', 'true');
  const res = await api('/web/api/streams?' + q, 'application/json');
  const body = await res.json();
  const tbody = document.querySelector('#streams-table tbody');
  if (!append) tbody.textContent = '';
  for (const s of body.streams) {
    const tr = document.createElement('tr');
    const name = document.createElement('td');
    const a = document.createElement('a');
    a.href = '#/streams/' + encodeURIComponent(s.streamId);
    a.textContent = s.streamId;
    a.className = 'stream-link';
    name.appendChild(a);
    if (s.deleted) name.append(' (deleted)');
    const count = document.createElement('td');
    count.textContent = s.eventCount;
    const when = document.createElement('td');
    when.textContent = new Date(s.lastWritten).toLocaleString();
    tr.append(name, count, when);
    tbody.appendChild(tr);
  }
  listOffset += body.streams.length;
  $('streams-empty').hidden = tbody.children.length > 0;
  $('streams-more').hidden = !body.hasMore;
}

// ------------------------------------------------------------------ events pages

let pageLinks = {};

function pretty(text) {
  if (text === undefined || text === null || text === '') return '';
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return String(text); }
}

function renderEvent(e, withStream) {
  const div = document.createElement('div');
  div.className = 'event';
  const h = document.createElement('h2');
  h.textContent = '#' + e.eventNumber + ' ' + e.eventType + (withStream ? ' in ' + e.streamId : '');
  const meta = document.createElement('div');
  meta.className = 'meta';
  meta.textContent = new Date(e.updated).toISOString() + ' · id ' + e.eventId;
  div.append(h, meta);
  for (const [label, value] of [['Data', e.data], ['Metadata', e.metaData]]) {
    const text = pretty(value);
    if (!text && label === 'Metadata') continue;
    const l = document.createElement('div');
    l.className = 'label';
    l.textContent = label;
    const pre = document.createElement('pre');
    pre.className = label === 'Data' ? 'event-data' : 'event-metadata';
    pre.textContent = text || '(empty)';
    div.append(l, pre);
  }
  return div;
}

function relPath(uri) {
  const i = uri.indexOf('/streams/');
  return i < 0 ? uri : uri.slice(i);
}

async function loadEvents(stream, path) {
  show('events');
  const isAll = stream === '$all';
  $('events-title').textContent = isAll ? 'All events ($all)' : 'Stream ' + stream;
  $('events-error').textContent = '';
  const url = (path || '/streams/' + encodeURIComponent(stream) + '/head/backward/' + PAGE) + '?embed=body';
  const res = await api(url);
  const list = $('events-list');
  list.textContent = '';
  if (res.status === 404 || res.status === 410) {
    $('events-error').textContent = res.status === 404 ? 'This stream does not exist (or was deleted).' : 'This stream was deleted for good.';
    $('older').disabled = $('newer').disabled = true;
    return;
  }
  const feed = await res.json();
  pageLinks = {};
  for (const l of feed.links) pageLinks[l.relation] = relPath(l.uri);
  for (const e of feed.entries) list.appendChild(renderEvent(e, isAll));
  $('older').disabled = !pageLinks.next;
  $('newer').disabled = feed.headOfStream || !pageLinks.previous || feed.entries.length === 0 && !path;
  $('events-info').textContent = feed.entries.length ? feed.entries.length + ' events on this page' : 'No events on this page';
  pageStream = stream;
}

let pageStream = '';

// ------------------------------------------------------------------ routing

function route() {
  if (!state.auth) return show('login');
  const hash = location.hash || '#/streams';
  $('nav-streams').classList.toggle('active', hash.startsWith('#/streams'));
  $('nav-all').classList.toggle('active', hash === '#/all');
  if (hash === '#/all') return loadEvents('$all').catch(() => {});
  if (hash.startsWith('#/streams/')) return loadEvents(decodeURIComponent(hash.slice('#/streams/'.length))).catch(() => {});
  show('streams');
  loadStreams(false).catch(() => {});
}

$('login-form').addEventListener('submit', (e) => signIn(e).catch((err) => { $('login-error').textContent = String(err); }));
$('sign-out').addEventListener('click', () => signOut(''));
$('search-form').addEventListener('submit', (e) => { e.preventDefault(); loadStreams(false).catch(() => {}); });
$('show-system').addEventListener('change', () => loadStreams(false).catch(() => {}));
$('streams-more').addEventListener('click', () => loadStreams(true).catch(() => {}));
$('older').addEventListener('click', () => pageLinks.next && loadEvents(pageStream, pageLinks.next).catch(() => {}));
$('newer').addEventListener('click', () => {
  if (!pageLinks.previous) return;
  // "previous" reads forward; show that range newest first by reading it backward.
  loadNewer().catch(() => {});
});
window.addEventListener('hashchange', route);

async function loadNewer() {
  const res = await api(pageLinks.previous + '?embed=body');
  const feed = await res.json();
  if (!feed.entries.length) return;
  const newest = feed.entries[0];
  const isAll = pageStream === '$all';
  if (isAll) {
    let prevOfPage = '';
    for (const l of feed.links) if (l.relation === 'previous') prevOfPage = relPath(l.uri);
    const pos = prevOfPage.split('/')[3];
    return loadEvents(pageStream, '/streams/%24all/' + pos + '/backward/' + PAGE);
  }
  return loadEvents(pageStream, '/streams/' + encodeURIComponent(pageStream) + '/' + newest.eventNumber + '/backward/' + PAGE);
}

route();
