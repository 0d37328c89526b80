/* Installs the service worker (vinylvault/static/sw.js) that keeps seen pages and covers
   browsable offline. The site works the same without it. */
(function () {
  "use strict";
  if ("serviceWorker" in navigator) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register("/sw.js", {scope: "/", updateViaCache: "none"}).catch(function () {
        /* No service worker (a private window, plain http off localhost): the site stays online-only. */
      });
    });
  }
}());
