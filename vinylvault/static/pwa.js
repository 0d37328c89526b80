/* Installs the service worker (vinylvault/static/sw.js) that keeps seen pages and covers
   browsable offline, except on the kiosk view. The site works the same without it. */
(function () {
  "use strict";
  if (!("serviceWorker" in navigator)) {
    return;
  }
  /* The Pi's own screen (the kiosk view) has the server on the same machine, never out of reach:
     a worker there would only stand between it and every page and cover (a return to the grid
     took twice as long to show its covers). A worker this browser installed before the kiosk view
     was turned on goes, with what it kept. */
  if (document.documentElement.classList.contains("kiosk")) {
    navigator.serviceWorker.getRegistrations().then(function (registrations) {
      return Promise.all(registrations.map(function (registration) { return registration.unregister(); }));
    }).then(function () {
      return caches.keys();
    }).then(function (names) {
      return Promise.all(names.filter(function (name) { return name.indexOf("vv-") === 0; })
        .map(function (name) { return caches.delete(name); }));
    }).catch(function () { /* nothing registered, or storage refused: nothing to undo */ });
    return;
  }
  /* A phone resumes an installed app without navigating, so ask for a new deployment's worker
     on every page load and every return to the app, not only when the browser thinks of it. */
  function checkForUpdate(registration) {
    registration.update().catch(function () { /* offline: the worker in place keeps serving */ });
  }
  window.addEventListener("load", function () {
    navigator.serviceWorker.register("/sw.js", {scope: "/", updateViaCache: "none"}).then(function (registration) {
      checkForUpdate(registration);
      document.addEventListener("visibilitychange", function () {
        if (document.visibilityState === "visible") {
          checkForUpdate(registration);
        }
      });
    }).catch(function () {
      /* No service worker (a private window, plain http off localhost): the site stays online-only. */
    });
  });
}());
