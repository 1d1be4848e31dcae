// Progressive enhancement of the year-end statements: after each batch the page comes back with
// data-continue="yes" while statements are still due, and this queues the next batch a moment later.
// Once all are queued and the mail worker is still sending them (data-refresh="yes"), the page reloads
// every few seconds to show the delivered count. Leaving the page pauses queuing (the worker goes on);
// without script the treasurer presses the button for each batch and reloads to see the progress.
(function () {
  var form = document.querySelector("form[data-continue='yes']");
  if (form) { window.setTimeout(function () { form.submit(); }, 800); return; }
  if (document.querySelector("[data-refresh='yes']")) {
    window.setTimeout(function () { window.location.reload(); }, 3000);
  }
})();
