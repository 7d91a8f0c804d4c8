// The web wallet's service worker: it keeps the app's own files (not the API's answers, not the
// person's vouchers: those live in IndexedDB) so that the app opens with no network. Files come
// from the network first, the copy kept here only when there is none, so an online visit always
// runs the newest build. A new build changes VERSION (web/build.mjs writes it: a hash of the
// files), so the browser installs this worker again: it takes over at once and drops the old
// copies.
const VERSION = '__VERSION__';
const CACHE = `ewallet-app-${VERSION}`;
const FILES = __FILES__;
const API_PREFIX = '/api/';

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n.startsWith('ewallet-app-') && n !== CACHE).map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

self.addEventListener('message', (event) => {
  if (event.data === 'version' && event.source) event.source.postMessage({ version: VERSION });
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  // The API (and anything not the app's own) goes straight to the network, never cached.
  if (request.method !== 'GET' || url.origin !== self.location.origin || url.pathname.startsWith(API_PREFIX)) return;
  event.respondWith((async () => {
    try {
      const answer = await fetch(request);
      // Only into this version's copy, and only while it exists: a worker being replaced must
      // not bring back the copy its successor just deleted.
      if (answer.ok && answer.type === 'basic' && await caches.has(CACHE)) {
        const copy = answer.clone();
        caches.open(CACHE).then((cache) => cache.put(request, copy)).catch(() => {});
      }
      return answer;
    } catch (err) {
      const cache = await caches.has(CACHE) ? await caches.open(CACHE) : null;
      const kept = cache && (await cache.match(request, { ignoreSearch: true })
        || (request.mode === 'navigate' ? await cache.match('./') || await cache.match('index.html') : undefined));
      if (kept) return kept;
      throw err;
    }
  })());
});
