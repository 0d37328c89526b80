/* VinylVault's service worker: what a phone has seen stays browsable when the Pi is out of reach.
   Served at /sw.js by vinylvault/site/pwa.py, which fills in SETTINGS (the deployment's version, the
   files to pre-cache and the budgets); the rules are described there. */
"use strict";

var SETTINGS = /*VV_SETTINGS*/{};
var PAGES = "vv-pages-" + SETTINGS.version;
var STATIC = "vv-static-" + SETTINGS.version;
/* Cover URLs never change meaning (served immutable), so covers outlive a deployment. */
var COVERS = "vv-covers-1";
var KEEP = [PAGES, STATIC, COVERS];
var OFFLINE_URL = "/offline";
/* The owner's tools, sign-in, guest links, photos and JSON: always the network, never stored. */
var NEVER_STORED = ["/admin", "/sync", "/setup", "/login", "/logout", "/guest/", "/api/", "/photos/",
                    "/sw.js", "/theme/"];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(STATIC).then(function (cache) {
    return cache.addAll(SETTINGS.precache);
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("vv-") === 0 && KEEP.indexOf(name) < 0;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

function storable(response) {
  var control = response.headers.get("Cache-Control") || "";
  return response.status === 200 && response.type === "basic" && !/no-store|private/.test(control);
}

/* Keep at most `limit` entries: Cache keys come back oldest first. */
function trim(cacheName, limit) {
  return caches.open(cacheName).then(function (cache) {
    return cache.keys().then(function (keys) {
      return Promise.all(keys.slice(0, Math.max(0, keys.length - limit)).map(function (key) {
        return cache.delete(key);
      }));
    });
  });
}

/* Once a newer deployment's worker is on its way, what this one stores could re-create a cache its
   successor deletes on activation: it stores nothing more (and undoes a put that raced the switch). */
function replaced() {
  var registration = self.registration;
  return Boolean(registration.installing || registration.waiting ||
                 (registration.active && self.serviceWorker && registration.active !== self.serviceWorker));
}

function store(cacheName, request, response, limit) {
  if (replaced()) {
    return Promise.resolve();
  }
  return caches.open(cacheName).then(function (cache) {
    return cache.put(request, response);
  }).then(function () {
    if (replaced() && cacheName !== COVERS) {
      return caches.delete(cacheName);
    }
    return limit ? trim(cacheName, limit) : null;
  });
}

/* Cover downloads under way, by URL: the grid's loader and its <img> ask for the same cover at once,
   and the second must wait for the first rather than download it again. */
var coversInFlight = new Map();

function fetchCover(request) {
  var pending = coversInFlight.get(request.url);
  if (!pending) {
    pending = fetch(request).then(function (response) {
      var stored = storable(response) ?
        store(COVERS, request.url, response.clone(), SETTINGS.maxCovers) : Promise.resolve();
      return stored.then(function () { return response; });
    }).finally(function () { coversInFlight.delete(request.url); });
    coversInFlight.set(request.url, pending);
  }
  return pending.then(function (response) { return response.clone(); });
}

function coverFirst(event) {
  return caches.match(event.request, {cacheName: COVERS}).then(function (hit) {
    return hit || fetchCover(event.request);
  });
}

function networkFirst(event, cacheName, limit, fallback) {
  return fetch(event.request).then(function (response) {
    if (storable(response)) {
      event.waitUntil(store(cacheName, event.request, response.clone(), limit));
    } else if (response.status === 401 || response.status === 403) {
      /* Access withdrawn (a revoked guest link): forget the pages this phone kept. */
      event.waitUntil(caches.delete(PAGES));
    }
    return response;
  }, function () {
    return caches.match(event.request, {cacheName: cacheName, ignoreVary: true}).then(function (hit) {
      return hit || fallback();
    });
  });
}

function offlinePage() {
  return caches.match(OFFLINE_URL, {cacheName: STATIC}).then(function (page) {
    return page || Response.error();
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) {
    return;
  }
  var path = url.pathname;
  if (NEVER_STORED.some(function (prefix) { return path.indexOf(prefix) === 0; })) {
    return;
  }
  if (path.indexOf("/cache/") === 0) {
    event.respondWith(coverFirst(event));
  } else if (path.indexOf("/static/") === 0 || path === OFFLINE_URL) {
    event.respondWith(networkFirst(event, STATIC, 0, function () { return Response.error(); }));
  } else if (request.mode === "navigate") {
    event.respondWith(networkFirst(event, PAGES, SETTINGS.maxPages, offlinePage));
  }
});
