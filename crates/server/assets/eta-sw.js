/*
 * The eTA's service worker, served at /eta/sw.js with scope /eta.
 *
 * It keeps the app shell (styles, scripts, icons, manifest) and the last
 * /eta page the person saw, so that the app opens without a network: with
 * the area, its advisory and the alerts as they were then (the page says it
 * is offline). Everything else, the API above all, goes to the network as
 * usual: nothing personal is cached but that one page, which sign-out
 * deletes (app.js).
 */
'use strict';

var VERSION = 'warden-eta-v1';
var SHELL = [
  '/assets/app.css',
  '/assets/app.js',
  '/assets/eta.js',
  '/assets/map.js',
  '/assets/logo.svg',
  '/assets/favicon.svg',
  '/assets/eta-icon.svg',
  '/assets/eta-icon-192.png',
  '/assets/eta-icon-512.png',
  '/assets/vendor/leaflet/leaflet.css',
  '/assets/vendor/leaflet/leaflet.js',
  '/eta/manifest.webmanifest'
];
var PAGE = '/eta';

self.addEventListener('install', function (event) {
  event.waitUntil(
    caches.open(VERSION).then(function (cache) { return cache.addAll(SHELL); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener('activate', function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) {
        return k.indexOf('warden-eta-') === 0 && k !== VERSION;
      }).map(function (k) { return caches.delete(k); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function offlinePage() {
  return new Response(
    '<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">' +
    '<title>eTA</title><link rel="stylesheet" href="/assets/app.css"><main class="container"><h1>eTA</h1>' +
    '<p>You are offline and this phone has no saved copy of the page yet. Open it once while connected.</p>' +
    '<p lang="fr">Vous êtes hors ligne et ce téléphone n’a pas encore de copie de la page.</p>' +
    '<p lang="ar" dir="rtl">أنت غير متصل ولا توجد نسخة محفوظة من الصفحة على هذا الهاتف بعد.</p></main>',
    { headers: { 'Content-Type': 'text/html; charset=utf-8' } }
  );
}

self.addEventListener('fetch', function (event) {
  var req = event.request;
  if (req.method !== 'GET') return;
  var url = new URL(req.url);
  if (url.origin !== self.location.origin) return;

  // The app page: the network first (fresh data), the last copy offline.
  if (url.pathname === PAGE && req.mode === 'navigate') {
    event.respondWith(
      fetch(req).then(function (resp) {
        if (resp.ok && !resp.redirected && resp.type === 'basic') {
          var copy = resp.clone();
          caches.open(VERSION).then(function (cache) { return cache.put(PAGE, copy); });
        }
        return resp;
      }).catch(function () {
        return caches.open(VERSION)
          .then(function (cache) { return cache.match(PAGE); })
          .then(function (hit) { return hit || offlinePage(); });
      })
    );
    return;
  }

  // The shell: the cached copy at once, refreshed in the background.
  if (SHELL.indexOf(url.pathname) !== -1 && !url.search) {
    event.respondWith(
      caches.open(VERSION).then(function (cache) {
        return cache.match(url.pathname).then(function (hit) {
          var fresh = fetch(req).then(function (resp) {
            if (resp.ok) cache.put(url.pathname, resp.clone());
            return resp;
          });
          if (hit) {
            fresh.catch(function () {});
            return hit;
          }
          return fresh;
        });
      })
    );
  }
  // Anything else (the API, other pages): the network, untouched.
});
