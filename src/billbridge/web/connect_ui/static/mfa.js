// BILL's MFA challenge after a successful link: send a code, check it, remember the device.
import { postJSON } from "./api.js";
import { $, announce, setBusy, setFieldError, setFormError, showStep } from "./ui.js";
import { describeMfaFailure, validateCode } from "./validate.js";

let flow = null;

function fail(answer) {
  const failure = describeMfaFailure(answer.status, answer.body);
  if (failure.fatal) {
    flow.onFatal(failure.form);
    return;
  }
  setFieldError("mfa_code", failure.field || null);
  setFormError("mfa-form-error", failure.form || null);
  if (failure.field) $("mfa_code").focus();
  else $("mfa-form-error").focus();
}

async function sendCode({ again }) {
  if (flow.busy) return;
  flow.busy = true;
  const form = $("step-mfa");
  setBusy(form, $("mfa-submit"), true, "Sending a code…");
  setFormError("mfa-form-error", null);
  const answer = await postJSON(`${flow.base}/connect/mfa/challenge`, flow.linked, flow.token);
  setBusy(form, $("mfa-submit"), false);
  flow.busy = false;
  if (!answer.ok) {
    fail(answer);
    return;
  }
  if (answer.body && answer.body.trusted === true) {
    // BILL remembers this device for this user (a reconnect): no code is needed.
    flow.onDone(true);
    return;
  }
  flow.challengeId = answer.body.challengeId;
  $("mfa_code").value = "";
  $("mfa_code").focus();
  announce(again ? "A new code was sent to your phone." : "BILL sent a code to your phone. Enter it to continue.");
}

async function verify(event) {
  event.preventDefault();
  if (flow.busy || !flow.challengeId) return;
  const code = $("mfa_code").value.replace(/\s+/g, "");
  const problem = validateCode(code);
  setFieldError("mfa_code", problem);
  setFormError("mfa-form-error", null);
  if (problem) {
    $("mfa_code").focus();
    return;
  }
  flow.busy = true;
  const form = $("step-mfa");
  setBusy(form, $("mfa-submit"), true, "Verifying…");
  const answer = await postJSON(
    `${flow.base}/connect/mfa/validate`,
    { ...flow.linked, challengeId: flow.challengeId, code, rememberDevice: $("remember_device").checked },
    flow.token,
  );
  setBusy(form, $("mfa-submit"), false);
  flow.busy = false;
  if (answer.ok) flow.onDone(Boolean(answer.body && answer.body.trusted));
  else fail(answer);
}

/** Shows the MFA step for the connection just linked and asks BILL for a first code. */
export function startMfa({ base, token, linked, onDone, onFatal }) {
  const first = flow === null;
  flow = { base, token, linked, onDone, onFatal, busy: false, challengeId: null };
  if (first) {
    $("step-mfa").addEventListener("submit", verify);
    $("mfa-resend").addEventListener("click", () => sendCode({ again: true }));
  }
  showStep("step-mfa", $("mfa_code"));
  sendCode({ again: false });
}
