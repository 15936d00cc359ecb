// The demo's service worker: network first, the last good copy when the network fails,
// so the page (and the package, and its config) starts offline too. Same origin only.
const CACHE = "tributary-demo-v2";
const SHELL = ["./", "app.js", "style.css", "config.json", "pkg/browser.js", "pkg/tributary.js",
  "pkg/errors.js", "pkg/tributary_bg.wasm", "pkg/durable.js", "pkg/durable/error.js",
  "pkg/durable/journal.js", "pkg/durable/store.js", "pkg/durable/lifecycle.js", "pkg/durable/replay.js",
  "pkg/ingest-client.js", "pkg/ingest-wire.js"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const response = await fetch(request);
      if (response.ok) await cache.put(request, response.clone());
      return response;
    } catch (error) {
      const hit = await cache.match(request, { ignoreSearch: true });
      if (hit) return hit;
      throw error;
    }
  })());
});
