/* Installs the service worker (vinylvault/static/sw.js) that keeps seen pages and covers
   browsable offline. The site works the same without it. */
(function () {
  "use strict";
  if (!("serviceWorker" in navigator)) {
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
