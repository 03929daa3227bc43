// Small DOM helpers shared by the steps: showing one step, field errors, busy buttons, announcements.

export const $ = (id) => document.getElementById(id);

const STEPS = ["step-loading", "step-fatal", "step-environment", "step-credentials", "step-mfa", "step-success"];

/** Shows one step and hides the others; `focus` is the element to move keyboard focus to. */
export function showStep(id, focus) {
  for (const step of STEPS) $(step).hidden = step !== id;
  if (focus) focus.focus();
}

export function announce(text) {
  const region = $("announce");
  region.textContent = "";
  // A fresh text node after a tick makes screen readers repeat an identical message.
  window.setTimeout(() => {
    region.textContent = text;
  }, 50);
}

export function setFieldError(name, message) {
  const input = $(name);
  const slot = $(`${name}-error`);
  if (!input || !slot) return;
  slot.textContent = message || "";
  if (message) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}

export function setFormError(id, message) {
  const box = $(id);
  box.textContent = message || "";
  box.hidden = !message;
}

/** Marks a form busy: the button cannot submit again and keeps focus; inputs become read-only. */
export function setBusy(form, button, busy, busyLabel) {
  const label = button.querySelector(".label");
  if (busy) {
    button.dataset.idleLabel = label.textContent;
    label.textContent = busyLabel;
  } else if (button.dataset.idleLabel) {
    label.textContent = button.dataset.idleLabel;
  }
  form.setAttribute("aria-busy", String(busy));
  button.setAttribute("aria-disabled", String(busy));
  for (const input of form.querySelectorAll("input")) input.readOnly = busy;
}
