/*
 * VinylVault's one way for a page's scripts to ask the server: same origin,
 * the session's cookie, an Accept header, and an answer that is not 2xx
 * turned into a rejection, so each caller has a single failure path (its
 * .catch) for a refused answer, a network error and an unreadable body alike.
 * Loaded before the other scripts (base.html); they read window.VinylVaultFetch,
 * which is missing in a browser without fetch().
 *
 *   VinylVaultFetch.json(url[, options]) -> Promise of the parsed JSON body
 *   VinylVaultFetch.html(url)            -> Promise of the HTML text
 *
 * `options` are fetch()'s (method, headers...); its headers are added to the Accept header.
 */
(function () {
  "use strict";

  // Without fetch() there is no helper: scripts check for it and leave the plain links and forms alone.
  if (!window.fetch) return;

  function answer(url, accept, options) {
    var init = Object.assign({credentials: "same-origin"}, options);
    init.headers = Object.assign({"Accept": accept}, options && options.headers);
    return fetch(url, init).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response;
    });
  }

  window.VinylVaultFetch = {
    json: function (url, options) {
      return answer(url, "application/json", options).then(function (response) { return response.json(); });
    },
    html: function (url) {
      return answer(url, "text/html").then(function (response) { return response.text(); });
    }
  };
})();
