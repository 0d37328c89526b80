// Upload widget of the album page's photos (templates/_photos.html).
// Without JavaScript the form posts to /album/<id>/photos and the page comes back
// with a message. With it, the files go to the JSON API with a progress bar, sizes
// are checked before anything is sent, and errors are shown in place.
(function () {
  "use strict";

  function upload(form) {
    var input = form.querySelector('input[type="file"][name="photos"]');
    var progress = form.querySelector("progress");
    var status = form.querySelector(".photos__status");
    var button = form.querySelector('button[type="submit"]');
    var maxBytes = Number(form.dataset.maxBytes);

    function say(message) { status.textContent = message; }

    form.addEventListener("submit", function (event) {
      var files = Array.prototype.slice.call(input.files || []);
      var tooBig = files.filter(function (file) { return file.size > maxBytes; });
      event.preventDefault();
      if (!files.length) { say("Choose one or more photos first."); return; }
      if (tooBig.length) {
        say(tooBig[0].name + " is larger than " + Math.round(maxBytes / 1048576) + " MB; nothing was uploaded.");
        return;
      }
      var data = new FormData(form);
      var request = new XMLHttpRequest();
      request.open("POST", form.dataset.api);
      request.setRequestHeader("X-CSRF-Token", data.get("csrf_token"));
      request.setRequestHeader("Accept", "application/json");
      request.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) { progress.value = Math.round((e.loaded / e.total) * 100); }
      });
      request.addEventListener("load", function () {
        var body = null;
        try { body = JSON.parse(request.responseText); } catch (err) { body = null; }
        if (request.status === 201) {
          say("Uploaded " + body.photos.length + " photo" + (body.photos.length === 1 ? "" : "s") + ".");
          window.location.hash = "photos";
          window.location.reload();
          return;
        }
        progress.hidden = true;
        button.disabled = false;
        say("Nothing was uploaded: " + (body && body.detail ? body.detail : "the server answered " + request.status) + ".");
      });
      request.addEventListener("error", function () {
        progress.hidden = true;
        button.disabled = false;
        say("The upload failed: no connection to the server.");
      });
      progress.value = 0;
      progress.hidden = false;
      button.disabled = true;
      say("Uploading " + files.length + " photo" + (files.length === 1 ? "" : "s") + "…");
      request.send(data);
    });
  }

  function confirmDeletes(root) {
    root.querySelectorAll("button[data-confirm]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        if (!window.confirm(button.dataset.confirm)) { event.preventDefault(); }
      });
    });
  }

  document.querySelectorAll("form[data-photo-upload]").forEach(upload);
  var section = document.getElementById("photos");
  if (section) { confirmDeletes(section); }
})();
