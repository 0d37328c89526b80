/*
 * Admin page controls over window.VinylVault (app.js): refresh the cover
 * cache's statistics in place, clear the cache after a second press, and warm
 * the covers of the first grid page with visible progress.
 *
 * Progressive enhancement: without this file the Refresh link reloads the
 * page and the Clear form posts; the Preload button, which needs a browser
 * fetching images, stays hidden.
 */
(function () {
  "use strict";

  var vv = window.VinylVault;
  // How long the Clear button waits for its confirming press.
  var CONFIRM_WINDOW_MS = 5000;
  // A double tap on a touchscreen fires two clicks a few hundred ms apart:
  // only a later, deliberate press confirms.
  var CONFIRM_DELAY_MS = 500;
  var BINARY_UNITS = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

  /* Bytes the way Jinja's filesizeformat(binary=True) writes them on the server. */
  function fileSize(bytes) {
    if (bytes === 1) return "1 Byte";
    if (bytes < 1024) return Math.floor(bytes) + " Bytes";
    var unit = 1024, index = 0;
    while (index < BINARY_UNITS.length - 1 && bytes >= unit * 1024) {
      unit *= 1024;
      index++;
    }
    return (bytes / unit).toFixed(1) + " " + BINARY_UNITS[index];
  }

  var FORMATS = {
    bytes: fileSize,
    percent: function (value) { return value.toFixed(1); }
  };

  function say(region, message, isError) {
    if (!region) return;
    region.textContent = message;
    region.classList.toggle("status-error", Boolean(isError));
  }

  function showStats(stats) {
    document.querySelectorAll("[data-cache-stats] [data-stat]").forEach(function (el) {
      var name = el.getAttribute("data-stat");
      if (!(name in stats)) return;
      var value = Number(stats[name]) || 0;
      var format = FORMATS[el.getAttribute("data-format")];
      el.textContent = format ? format(value) : String(value);
    });
    var meter = document.querySelector("[data-stats-used]");
    if (meter && stats.cache_limit_bytes) {
      var used = Math.round(1000 * stats.total_size_bytes / stats.cache_limit_bytes) / 10;
      meter.setAttribute("aria-valuenow", String(used));
      meter.firstElementChild.style.width = Math.min(used, 100) + "%";
    }
  }

  var statsStatus = document.querySelector("[data-stats-status]");
  var actionsStatus = document.querySelector("[data-actions-status]");

  /* Fetch and show the statistics; with announce, tell the live region. Resolves to true on success. */
  function refreshStats(announce) {
    return vv.getCacheStats().then(function (stats) {
      if (!stats) {
        say(statsStatus, "The statistics could not be loaded; try again.", true);
        return false;
      }
      showStats(stats);
      // The time makes each announcement new text, so screen readers repeat it.
      if (announce) say(statsStatus, "Statistics updated at " + new Date().toLocaleTimeString() + ".");
      return true;
    });
  }

  function initRefresh(link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      if (link.getAttribute("aria-busy") === "true") return;
      link.setAttribute("aria-busy", "true");
      refreshStats(true).then(function () { link.removeAttribute("aria-busy"); });
    });
  }

  /*
   * Clear asks for a second press of the same button (works with a finger, a
   * mouse or the keyboard; the live region says what the second press does).
   * The button's data-confirm goes pending -> armed -> (removed).
   */
  function initClear(form) {
    var button = form.querySelector("button[type=submit]");
    var label = button.textContent;
    var timers = [];

    function disarm() {
      timers.forEach(window.clearTimeout);
      timers = [];
      button.removeAttribute("data-confirm");
      button.classList.remove("button--armed");
      button.textContent = label;
    }

    function arm() {
      button.setAttribute("data-confirm", "pending");
      button.classList.add("button--armed");
      button.textContent = "Press again to clear";
      say(actionsStatus, "Press the button again within " + CONFIRM_WINDOW_MS / 1000 +
          " seconds to remove every cached cover.");
      timers.push(window.setTimeout(function () { button.setAttribute("data-confirm", "armed"); }, CONFIRM_DELAY_MS));
      timers.push(window.setTimeout(function () {
        disarm();
        say(actionsStatus, "Nothing was cleared.");
      }, CONFIRM_WINDOW_MS));
    }

    function clear() {
      button.setAttribute("aria-busy", "true");
      say(actionsStatus, "Clearing the cover cache…");
      vv.clearImageCache().then(function (ok) {
        button.removeAttribute("aria-busy");
        if (ok) say(actionsStatus, "Cover cache cleared; covers are converted again as they are viewed.");
        else say(actionsStatus, "The cover cache could not be cleared; see the server log.", true);
        return refreshStats(false);
      });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var state = button.getAttribute("data-confirm");
      if (button.getAttribute("aria-busy") === "true" || state === "pending") return;
      if (state === "armed") {
        disarm();
        clear();
      } else {
        arm();
      }
    });
  }

  /* Fetch the first grid page's fragment and warm its covers, showing "n of m". */
  function initPreload(button) {
    var box = document.querySelector("[data-preload-progress]");
    var bar = box.querySelector("progress");
    var count = box.querySelector("[data-preload-count]");

    function showProgress(result) {
      var done = result.loaded + result.failed;
      bar.max = Math.max(result.total, 1);
      bar.value = done;
      count.textContent = done + " of " + result.total;
    }

    function finished(result) {
      if (!result.total) {
        say(actionsStatus, "The first grid page has no covers to preload.");
      } else if (result.failed) {
        say(actionsStatus, "Preloaded " + result.loaded + " of " + result.total + " covers; " +
            result.failed + " failed (see the server log).", true);
      } else {
        say(actionsStatus, "Preloaded all " + result.total + " covers of the first grid page.");
      }
      return refreshStats(false);
    }

    button.hidden = false;
    button.addEventListener("click", function () {
      if (button.getAttribute("aria-busy") === "true") return;
      button.setAttribute("aria-busy", "true");
      box.hidden = false;
      showProgress({total: 0, loaded: 0, failed: 0});
      say(actionsStatus, "Preloading the covers of the first grid page…");
      window.VinylVaultFetch.html(button.getAttribute("data-preload-grid"))
        .then(function (html) {
          var page = new DOMParser().parseFromString(html, "text/html");
          return vv.preloadCurrentPageImages(page, showProgress);
        })
        .then(finished, function () {
          say(actionsStatus, "The first grid page could not be fetched; try again.", true);
        })
        .then(function () { button.removeAttribute("aria-busy"); });
    });
  }

  // Without app.js (or fetch) the plain link and form keep doing the job.
  if (!vv || !window.VinylVaultFetch || !window.DOMParser) return;
  document.querySelectorAll("[data-stats-refresh]").forEach(initRefresh);
  document.querySelectorAll("form[data-clear-cache]").forEach(initClear);
  document.querySelectorAll("[data-preload-grid]").forEach(initPreload);
})();
