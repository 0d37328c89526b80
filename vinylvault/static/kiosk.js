/* VinylVault on the Pi's touchscreen (base.html loads this in the kiosk view; attract.html always).
   After data-kiosk-idle-ms without a touch, the attract screen is laid over the page; a touch takes it
   away, so the page's address and scroll position are exactly as they were left. */
(function () {
  "use strict";

  var root = document.documentElement;

  var idleMs = parseInt(root.getAttribute("data-kiosk-idle-ms"), 10) || 180000;
  var dimFrom = parseInt(root.getAttribute("data-kiosk-dim-from"), 10) || 0;
  var dimUntil = parseInt(root.getAttribute("data-kiosk-dim-until"), 10) || 0;
  var attractUrl = root.getAttribute("data-kiosk-attract");
  // While the attract screen shows, it is fetched again now and then: a record put on shows up.
  var REFRESH_MS = 60000;
  var idleTimer = null, refreshTimer = null, overlay = null, idle = false;

  /* Night-time dim: within [from, until) on the Pi's clock, once nobody has touched the screen for a while. */
  function inDimHours() {
    if (dimFrom === dimUntil) return false;
    var hour = new Date().getHours();
    return dimFrom < dimUntil ? hour >= dimFrom && hour < dimUntil : hour >= dimFrom || hour < dimUntil;
  }

  function applyDim() { root.classList.toggle("kiosk-dim", idle && inDimHours()); }

  function place(html) {
    if (!idle) return;  // touched while the screen was on its way
    var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-attract]");
    if (!fresh) return;
    fresh = document.adoptNode(fresh);
    if (overlay) overlay.replaceWith(fresh); else document.body.appendChild(fresh);
    overlay = fresh;
    overlay.addEventListener("click", function (event) { event.preventDefault(); wake(); });
    root.classList.add("attract-on");
    refreshTimer = window.setTimeout(showAttract, REFRESH_MS);
  }

  function showAttract() {
    idle = true;
    applyDim();
    window.VinylVaultFetch.html(attractUrl)
      .then(place)
      .catch(function () { if (idle) refreshTimer = window.setTimeout(showAttract, REFRESH_MS); });
  }

  function hideAttract() {
    window.clearTimeout(refreshTimer);
    if (overlay) overlay.remove();
    overlay = null;
    root.classList.remove("attract-on");
  }

  /* Any touch, key or scroll: back to the page, and the idle count starts again. */
  function wake() {
    idle = false;
    hideAttract();
    applyDim();
    window.clearTimeout(idleTimer);
    idleTimer = window.setTimeout(showAttract, idleMs);
  }

  /* The whole /kiosk/attract page: a touch opens the grid. */
  function initAttractPage(page) {
    page.addEventListener("click", function (event) {
      if (event.target.closest("a")) return;
      window.location.href = page.getAttribute("data-return-url");
    });
  }

  /* Keep the screen on while the site is up (localhost is a secure context, so Chromium allows it). */
  function keepAwake() {
    if (!navigator.wakeLock) return;
    function request() { navigator.wakeLock.request("screen").catch(function () { /* not allowed: fine */ }); }
    request();
    document.addEventListener("visibilitychange", function () { if (document.visibilityState === "visible") request(); });
  }

  function init() {
    // /kiosk/attract loads this file in any view; every other page only in the kiosk view.
    var page = document.querySelector("[data-attract-page]");
    if (page) { initAttractPage(page); return; }
    if (!root.classList.contains("kiosk")) return;
    keepAwake();
    ["pointerdown", "keydown", "wheel", "touchstart"].forEach(function (name) {
      // A touch on the attract screen itself is answered by its click handler, not here.
      window.addEventListener(name, function (event) { if (!(overlay && overlay.contains(event.target))) wake(); },
                              { capture: true, passive: true });
    });
    window.addEventListener("scroll", function () { if (!overlay) wake(); }, { passive: true });
    window.setInterval(applyDim, 60000);
    wake();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
