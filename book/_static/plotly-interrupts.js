// Plotly.animate rejects its promise, with no reason, when a newer animation interrupts
// it (Pause, or a slider step while playing); plotly's own buttons leave that rejection
// unhandled, which browsers report as an error. Interrupting is what Pause is for.
window.addEventListener("unhandledrejection", (event) => {
  if (event.reason === undefined) {
    event.preventDefault();
  }
});
