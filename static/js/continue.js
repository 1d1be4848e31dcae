// Progressive enhancement of the year-end statements: after each batch the page comes back with
// data-continue="yes" while statements are still due, and this sends the next batch a moment later.
// Leaving the page pauses the run; without script the treasurer presses the button for each batch.
(function () {
  var form = document.querySelector("form[data-continue='yes']");
  if (form) { window.setTimeout(function () { form.submit(); }, 800); }
})();
