/* The now-spinning screen's live clock. The page is complete without it
 * (the server marks the current track and the time left at each load);
 * this moves the highlight and the countdown every second, and follows a
 * flip or stop made from another screen by polling the server's state. */
(function () {
  "use strict";
  var main = document.querySelector("main.turntable");
  if (!main) { return; }
  var spinId = main.getAttribute("data-spin-id") || null;
  var stateUrl = main.getAttribute("data-state-url");
  var tracks = Array.prototype.slice.call(main.querySelectorAll("[data-tracks] li"));
  var left = main.querySelector("[data-left]");
  var flip = main.querySelector("[data-flip]");
  var POLL_MS = 10000;

  function clock(seconds) {
    var s = Math.max(0, Math.ceil(seconds));
    var rest = s % 60;
    return Math.floor(s / 60) + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function tick() {
    if (!tracks.length) { return; }
    var now = Date.now() / 1000;
    var last = tracks[tracks.length - 1];
    var end = parseFloat(last.getAttribute("data-start")) + parseFloat(last.getAttribute("data-seconds"));
    tracks.forEach(function (li) {
      var start = parseFloat(li.getAttribute("data-start"));
      var stop = start + parseFloat(li.getAttribute("data-seconds"));
      var current = now >= start && now < stop;
      li.classList.toggle("is-current", current);
      li.classList.toggle("is-played", now >= stop);
      if (current) { li.setAttribute("aria-current", "true"); } else { li.removeAttribute("aria-current"); }
    });
    if (left) { left.textContent = now >= end ? "side over" : clock(end - now) + " left"; }
    if (flip) { flip.classList.toggle("button--primary", now >= end); }
  }

  function poll() {
    window.VinylVaultFetch.json(stateUrl)
      .then(function (state) {
        if (state && String(state.spin || "") !== String(spinId || "")) { window.location.reload(); }
      })
      .catch(function () { /* offline for a moment: the next poll tries again */ });
  }

  tick();
  window.setInterval(tick, 1000);
  window.setInterval(poll, POLL_MS);
})();
