// Behaviour shared by every page. Inline event handlers are blocked by the
// Content-Security-Policy, so pages declare behaviour in data- attributes.

// <form data-confirm="Question?">: ask before submitting.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) {
    return;
  }
  if (!window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
