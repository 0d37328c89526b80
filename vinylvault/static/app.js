/*
 * VinylVault covers: lazy loading with blur-up, and the cache helpers on
 * window.VinylVault (preloadCurrentPageImages, getCacheStats,
 * clearImageCache) that admin.js builds on. Vanilla JS, no build step, no crypto.subtle: the keys in
 * the image URLs are computed by the server, never here.
 *
 * Markup contract (vinylvault/covers/tags.py renders it):
 *   <img class="lazy-load" src="<preview data: URI or placeholder>"
 *        data-src data-srcset data-sizes data-original-src data-placeholder ...>
 * The class goes lazy-load -> loaded (real image shown) or errored (placeholder
 * shown). Transitions belong to the stylesheet, which honours
 * prefers-reduced-motion; this script sets classes only. Markup added later
 * (pages.js's "Load more") is announced with a "vinylvault:content" event and
 * lazy-loaded the same way.
 */
(function () {
  "use strict";

  var SELECTOR = "img.lazy-load[data-src]";
  // Covers start loading this far above or below the screen.
  var LOOK_AHEAD_PX = 200;
  // A scroll between two frames longer than this many screens is a jump (a reload put back
  // deep in the grid), not a flick the reader's eyes went through.
  var MAX_SWEEP_SCREENS = 5;
  // The Pi has two cores shared with the server: warm two images at a time.
  var PRELOAD_CONCURRENCY = 2;

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.content) return meta.content;
    var field = document.querySelector('input[name="csrf_token"]');
    return field ? field.value : "";
  }

  function finish(img, state) {
    img.classList.remove("lazy-load");
    img.classList.add(state);
  }

  function showPlaceholder(img) {
    var placeholder = img.getAttribute("data-placeholder");
    img.removeAttribute("srcset");
    if (placeholder) img.src = placeholder;
    finish(img, "errored");
  }

  // Try each candidate in turn; the preview stays visible until one decodes,
  // because the loading happens in a detached Image.
  function loadInto(img, candidates) {
    var candidate = candidates.shift();
    if (!candidate) {
      showPlaceholder(img);
      return;
    }
    var loader = new Image();
    loader.decoding = "async";
    if (candidate.srcset) {
      loader.sizes = candidate.sizes || "";
      loader.srcset = candidate.srcset;
    }
    loader.onload = function () {
      if (candidate.srcset) {
        img.sizes = candidate.sizes || "";
        img.srcset = candidate.srcset;
      } else {
        img.removeAttribute("srcset");
      }
      img.src = candidate.src;
      finish(img, "loaded");
    };
    loader.onerror = function () { loadInto(img, candidates); };
    loader.src = candidate.src;
  }

  function reveal(img) {
    var src = img.getAttribute("data-src");
    if (!src) return;
    img.removeAttribute("data-src");
    var candidates = [{
      src: src,
      srcset: img.getAttribute("data-srcset"),
      sizes: img.getAttribute("data-sizes")
    }];
    var original = img.getAttribute("data-original-src");
    if (original && original !== src) candidates.push({src: original});
    loadInto(img, candidates);
  }

  var observer = null;
  var lastScrollY = 0;

  /*
   * The observer only sees rendered frames. A flick that carries the page further than the
   * screen and its look-ahead between two frames (a fast finger, a busy Pi) skips the rows in
   * between, and so does a page of cards inserted and flicked past before its first frame:
   * their covers would stay blurred. Each scroll longer than a screen (anything shorter
   * cannot skip a card past the observer) reveals the covers in the stretch it swept; a jump
   * longer than MAX_SWEEP_SCREENS is not swept, so a reload's place restored deep in the
   * grid loads only what is around it.
   */
  function revealSwept() {
    var from = lastScrollY;
    var to = window.scrollY;
    lastScrollY = to;
    var distance = Math.abs(to - from);
    if (distance <= window.innerHeight || distance > MAX_SWEEP_SCREENS * window.innerHeight) return;
    // The swept stretch in viewport coordinates (now scrolled to `to`), look-ahead included.
    var top = Math.min(from, to) - to - LOOK_AHEAD_PX;
    var bottom = Math.max(from, to) - to + window.innerHeight + LOOK_AHEAD_PX;
    lazyCovers(document).forEach(function (img) {
      var box = img.getBoundingClientRect();
      if (box.bottom > top && box.top < bottom) {
        observer.unobserve(img);
        reveal(img);
      }
    });
  }

  /* Reveal each cover of images when it comes near the viewport. */
  function watchCovers(images) {
    if (!("IntersectionObserver" in window)) {
      images.forEach(reveal);
      return;
    }
    if (!observer) {
      observer = new IntersectionObserver(function (entries) {
        entries.forEach(function (entry) {
          if (entry.isIntersecting) {
            observer.unobserve(entry.target);
            reveal(entry.target);
          }
        });
      }, {rootMargin: LOOK_AHEAD_PX + "px 0px"});
      lastScrollY = window.scrollY;
      window.addEventListener("scroll", revealSwept, {passive: true});
    }
    images.forEach(function (img) { observer.observe(img); });
  }

  /* The lazy covers under root, and root itself when it is one. */
  function lazyCovers(root) {
    var found = Array.prototype.slice.call(root.querySelectorAll ? root.querySelectorAll(SELECTOR) : []);
    if (root.matches && root.matches(SELECTOR)) found.unshift(root);
    return found;
  }

  function observeCovers() {
    watchCovers(lazyCovers(document));
  }

  /*
   * Content added after load (pages.js: "Load more" and infinite scroll)
   * announces itself with a "vinylvault:content" event whose detail.added
   * lists the new nodes: their covers join the same lazy loading.
   */
  function observeAddedContent(event) {
    var added = (event.detail && event.detail.added) || [];
    var images = [];
    added.forEach(function (node) { images = images.concat(lazyCovers(node)); });
    watchCovers(images);
  }

  function warm(url) {
    return new Promise(function (resolve) {
      var image = new Image();
      image.onload = function () { resolve(true); };
      image.onerror = function () { resolve(false); };
      image.src = url;
    });
  }

  /*
   * The distinct /cache/ URLs of the covers under root: data-src while a cover
   * waits for its turn, src once shown or when rendered eagerly. A fetched
   * document also holds the <noscript> twins (a parsed document runs no
   * script), which repeat the same URLs: hence the set.
   */
  function coverUrls(root) {
    var seen = {};
    Array.prototype.forEach.call(root.querySelectorAll("img[data-size-type]"), function (img) {
      var url = img.getAttribute("data-src") || img.getAttribute("src") || "";
      if (url.indexOf("/cache/") === 0) seen[url] = true;
    });
    return Object.keys(seen);
  }

  /*
   * Fetch every cover of a page, so paging back and forth is instant: this
   * document by default, or any root (e.g. a grid page fetched and parsed).
   * It GETs the /cache/... URLs themselves (the page knows keys, not source
   * URLs): the server converts what is missing, and the browser keeps the
   * immutable answers. Needs no login. onProgress, if given, receives the
   * running result after each image. Resolves to {total, loaded, failed}.
   */
  function preloadCurrentPageImages(root, onProgress) {
    var urls = coverUrls(root || document);
    var result = {total: urls.length, loaded: 0, failed: 0};
    var next = 0;
    function worker() {
      if (next >= urls.length) return Promise.resolve();
      var url = urls[next++];
      return warm(url).then(function (ok) {
        if (ok) result.loaded++; else result.failed++;
        if (onProgress) onProgress(result);
        return worker();
      });
    }
    var workers = [];
    for (var i = 0; i < PRELOAD_CONCURRENCY; i++) workers.push(worker());
    return Promise.all(workers).then(function () { return result; });
  }

  /* The cache statistics (GET /api/cache/stats), or null when unavailable. */
  function getCacheStats() {
    return window.VinylVaultFetch.json("/api/cache/stats").catch(function () { return null; });
  }

  /* Empty the image cache (owner only; POST /api/cache/clear). Resolves to true or false. */
  function clearImageCache() {
    return window.VinylVaultFetch.json("/api/cache/clear", {method: "POST", headers: {"X-CSRF-Token": csrfToken()}})
      .then(function (body) { return body.success !== false; })
      .catch(function () { return false; });
  }

  window.VinylVault = {
    preloadCurrentPageImages: preloadCurrentPageImages,
    getCacheStats: getCacheStats,
    clearImageCache: clearImageCache
  };

  document.addEventListener("vinylvault:content", observeAddedContent);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", observeCovers);
  } else {
    observeCovers();
  }
})();
