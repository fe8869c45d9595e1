// The console's own behaviour beyond htmx, kept in a file so that its pages need no inline
// script (their Content-Security-Policy allows none): a filter control marked
// data-autosubmit applies as soon as it changes.
document.addEventListener("change", (event) => {
  const control = event.target;
  if (control instanceof HTMLElement && control.hasAttribute("data-autosubmit")) {
    control.form?.submit();
  }
});
