/* VinylVault page behaviours. Every page works without this file: each
   feature here upgrades a plain link or form that already does the job. */
(function () {
  "use strict";

  var THEME_COOKIE = "vv_theme";
  var reducedMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function storeTheme(name) {
    try { localStorage.setItem("vv-theme", name); } catch (e) { /* private mode: the cookie still works */ }
    document.cookie = THEME_COOKIE + "=" + name + "; path=/; max-age=31536000; SameSite=Lax";
  }

  function applyTheme(name) {
    document.documentElement.setAttribute("data-theme", name);
    var other = name === "dark" ? "light" : "dark";
    document.querySelectorAll("[data-theme-toggle]").forEach(function (el) {
      el.setAttribute("aria-label", "Switch to " + other + " theme");
    });
  }

  /* The server renders the cookie's theme; localStorage wins if the cookie was lost. */
  function initTheme() {
    var saved = null;
    try { saved = localStorage.getItem("vv-theme"); } catch (e) { /* ignore */ }
    var current = document.documentElement.getAttribute("data-theme");
    if ((saved === "dark" || saved === "light") && saved !== current) {
      applyTheme(saved);
      storeTheme(saved);
    }
    document.querySelectorAll("[data-theme-toggle]").forEach(function (el) {
      el.addEventListener("click", function (event) {
        event.preventDefault();
        var next = document.documentElement.getAttribute("data-theme") === "dark" ? "light" : "dark";
        applyTheme(next);
        storeTheme(next);
      });
    });
  }

  function typingInField(event) {
    var t = event.target;
    return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  }

  /* Album pages: left/right arrow keys and horizontal swipes follow rel=prev/next. */
  function initAlbumNavigation() {
    var prev = document.querySelector("a[rel~=prev][data-nav]");
    var next = document.querySelector("a[rel~=next][data-nav]");
    if (!prev && !next) return;
    function go(link) { if (link) window.location.href = link.href; }
    document.addEventListener("keydown", function (event) {
      if (event.altKey || event.ctrlKey || event.metaKey || typingInField(event)) return;
      if (event.key === "ArrowLeft") go(prev);
      else if (event.key === "ArrowRight") go(next);
    });
    var startX = null, startY = 0;
    document.addEventListener("touchstart", function (event) {
      if (event.touches.length !== 1) { startX = null; return; }
      startX = event.touches[0].clientX;
      startY = event.touches[0].clientY;
    }, { passive: true });
    document.addEventListener("touchend", function (event) {
      if (startX === null) return;
      var dx = event.changedTouches[0].clientX - startX;
      var dy = event.changedTouches[0].clientY - startY;
      startX = null;
      // A clearly horizontal gesture only: vertical scrolling must never turn the page.
      if (Math.abs(dx) > 70 && Math.abs(dy) < Math.abs(dx) / 2) go(dx > 0 ? prev : next);
    }, { passive: true });
  }

  /* Random: spin the record, then follow the link (instantly with reduced motion). */
  function initSpin() {
    document.querySelectorAll("[data-spin]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        if (reducedMotion) return;
        event.preventDefault();
        button.classList.add("spinning");
        button.setAttribute("aria-busy", "true");
        window.setTimeout(function () { window.location.href = button.href; }, 700);
      });
    });
    // Coming back with the back button restores the page from cache: stop the spin.
    window.addEventListener("pageshow", function () {
      document.querySelectorAll("[data-spin].spinning").forEach(function (b) {
        b.classList.remove("spinning");
        b.removeAttribute("aria-busy");
      });
    });
  }

  /* Where this history entry keeps the grid: the fragment URLs appended to it so far and
     the scroll position, so a reload (or a return the back/forward cache could not keep)
     rebuilds the same grid and puts the reader back in the same place. */
  var GRID_STATE = "vinylvaultGrid";
  // A reload deep in a huge collection refetches at most this many pages; the rest
  // arrive through the infinite scroll as usual.
  var MAX_RESTORED_PAGES = 40;
  var SAVE_SCROLL_MS = 250;

  function savedGrid() {
    var state = history.state;
    var grid = state && state[GRID_STATE];
    return grid && Array.isArray(grid.pages) && typeof grid.scrollY === "number" ? grid : null;
  }

  function saveGrid(pages) {
    var state = {};
    if (history.state && typeof history.state === "object") Object.assign(state, history.state);
    state[GRID_STATE] = { pages: pages.slice(0, MAX_RESTORED_PAGES), scrollY: Math.round(window.scrollY) };
    try { history.replaceState(state, ""); } catch (e) { /* too many calls: the next save catches up */ }
  }

  /* One grid page's fragment, parsed; rejects on a failed answer. */
  function fetchPage(url) {
    return window.VinylVaultFetch.html(url)
      .then(function (html) { return new DOMParser().parseFromString(html, "text/html"); });
  }

  /* Grid: the "Load more" link fetches the next page's fragment and appends it. */
  function initInfiniteScroll() {
    var grid = document.querySelector("[data-album-grid]");
    if (!grid || !window.VinylVaultFetch || !window.DOMParser) return;
    var loading = false;
    var pages = [];
    var saveTimer = null;

    function currentLink() { return document.querySelector("a.load-more[data-fragment]"); }

    // While pages remain, the footer waits: shown under a growing grid it would be
    // pushed down under the reader's eyes by every page that arrives.
    function holdFooter(hold) { document.documentElement.classList.toggle("more-pages-coming", hold); }

    /* Append a fetched page's cards, and put its "Load more" in place of link's. */
    function appendPage(doc, link) {
      var added = [];
      doc.querySelectorAll("[data-album-grid] > li").forEach(function (li) {
        // A parsed document runs no script, so each <noscript> twin became a real <img>:
        // inserted, it would download every cover a second time. app.js loads the covers.
        li.querySelectorAll("noscript").forEach(function (twin) { twin.remove(); });
        added.push(grid.appendChild(document.adoptNode(li)));
      });
      pages.push(link.getAttribute("data-fragment"));
      var wrap = link.closest(".load-more-wrap");
      var fresh = doc.querySelector(".load-more-wrap");
      if (fresh) wrap.replaceWith(document.adoptNode(fresh)); else wrap.remove();
      grid.dispatchEvent(new CustomEvent("vinylvault:content", { bubbles: true, detail: { added: added } }));
    }

    function loadMore(link) {
      if (loading) return;
      loading = true;
      link.setAttribute("aria-busy", "true");
      fetchPage(link.getAttribute("data-fragment"))
        .then(function (doc) {
          appendPage(doc, link);
          saveGrid(pages);
          loading = false;
          watch();
        })
        .catch(function () {
          // Leave the plain link in place: following it still loads the next page.
          link.removeAttribute("aria-busy");
          link.removeAttribute("data-fragment");
          loading = false;
          holdFooter(false);
        });
    }

    /* Fetch the saved pages together, append them in order while each still follows
       on from the grid (a sync may have changed the collection since), then scroll. */
    function restore(saved) {
      loading = true;
      holdFooter(true);
      history.scrollRestoration = "manual";
      var wanted = saved.pages.slice(0, MAX_RESTORED_PAGES);
      var fetched = wanted.map(function (url) { return fetchPage(url).catch(function () { return null; }); });
      function step(i) {
        var link = currentLink();
        if (i >= wanted.length || !link || link.getAttribute("data-fragment") !== wanted[i]) return Promise.resolve();
        return fetched[i].then(function (doc) {
          if (!doc) return null;
          appendPage(doc, link);
          return step(i + 1);
        });
      }
      step(0).then(function () {
        window.scrollTo(0, saved.scrollY);
        history.scrollRestoration = "auto";
        loading = false;
        saveGrid(pages);
        watch();
      });
    }

    function rememberScroll() {
      if (loading) return;
      window.clearTimeout(saveTimer);
      saveTimer = window.setTimeout(function () { saveGrid(pages); }, SAVE_SCROLL_MS);
    }

    var observer = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) { if (entry.isIntersecting) loadMore(entry.target); });
    }, { rootMargin: "600px 0px" }) : null;

    function watch() {
      var link = currentLink();
      holdFooter(Boolean(link && observer));
      if (!link) return;
      link.addEventListener("click", function (event) { event.preventDefault(); loadMore(link); });
      if (observer) { observer.disconnect(); observer.observe(link); }
    }

    // Saved a moment after scrolling stops, never on pagehide: a history change
    // while the page is hidden keeps chromium from holding it in the back/forward cache.
    window.addEventListener("scroll", rememberScroll, { passive: true });
    var saved = savedGrid();
    if (saved && saved.pages.length) restore(saved); else watch();
  }

  /* Sort and order selects apply at once; the filters keep their Apply button. */
  function initAutoSubmit() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.requestSubmit ? select.form.requestSubmit() : select.form.submit(); });
    });
  }

  /* Sync page: poll the JSON status while a sync runs, reload when it ends. */
  function initSyncProgress() {
    var box = document.querySelector("[data-sync-status-url]");
    if (!box || !window.VinylVaultFetch) return;
    var url = box.getAttribute("data-sync-status-url");
    var bar = box.querySelector(".progress__bar");
    var progress = box.querySelector("[role=progressbar]");
    var text = box.querySelector("[data-sync-text]");
    function tick() {
      window.VinylVaultFetch.json(url)
        .then(function (status) {
          var percent = Math.max(0, Math.min(100, Math.round(status.percent || 0)));
          if (bar) bar.style.width = percent + "%";
          if (progress) progress.setAttribute("aria-valuenow", String(percent));
          if (text && status.message) text.textContent = status.message;
          if (status.running) window.setTimeout(tick, 2000);
          else window.location.reload();
        })
        .catch(function () { window.setTimeout(tick, 10000); });
    }
    if (box.getAttribute("data-running") === "true") window.setTimeout(tick, 1500);
  }

  /* Album page: while Discogs details are being fetched, reload just the tracklist section. */
  function initPendingDetails() {
    var section = document.querySelector("[data-details-pending]");
    if (!section || !window.VinylVaultFetch || !window.DOMParser) return;
    var attempts = 0;
    function poll() {
      attempts += 1;
      window.VinylVaultFetch.html(window.location.href)
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(section.id);
          if (fresh && !fresh.hasAttribute("data-details-pending")) {
            section.replaceWith(document.adoptNode(fresh));
          } else if (attempts < 5) {
            window.setTimeout(poll, 2000 * attempts);
          }
        })
        .catch(function () { /* the Reload link is still there */ });
    }
    window.setTimeout(poll, 2000);
  }

  /* Now playing: keep the touchscreen awake while the record plays. */
  function initWakeLock() {
    if (!document.querySelector("[data-wake-lock]") || !navigator.wakeLock) return;
    function request() { navigator.wakeLock.request("screen").catch(function () { /* not allowed: fine */ }); }
    request();
    document.addEventListener("visibilitychange", function () { if (document.visibilityState === "visible") request(); });
  }

  function init() {
    initTheme();
    initAlbumNavigation();
    initSpin();
    initInfiniteScroll();
    initAutoSubmit();
    initSyncProgress();
    initPendingDetails();
    initWakeLock();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
