// Progressive enhancement of the thanks page: while the gift is being confirmed, ask the server
// every two seconds (for up to two minutes) and reload the page once, when the status changes.
// Without script the page offers a "Check again" link instead.
(function () {
  var box = document.querySelector("[data-status-url]");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-status-url");
  var tries = 0;
  function check() {
    tries += 1;
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data && data.status && data.status !== "pending") { window.location.reload(); }
        else if (tries < 60) { window.setTimeout(check, 2000); }
      })
      .catch(function () { if (tries < 60) { window.setTimeout(check, 2000); } });
  }
  window.setTimeout(check, 1500);
})();
