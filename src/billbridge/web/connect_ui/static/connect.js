// The Connect UI page: pick the environment, type BILL credentials, confirm MFA, tell the opener.
import { getJSON, postJSON } from "./api.js";
import { hasPeer, onSessionToken, post } from "./messaging.js";
import { startMfa } from "./mfa.js";
import { $, announce, setBusy, setFieldError, setFormError, showStep } from "./ui.js";
import { describeFailure, validateCredentials } from "./validate.js";

const FIELDS = ["username", "password", "organization_id", "dev_key", "api_token"];
const base = document.body.dataset.base || "";
const state = { token: null, context: null, integration: null, busy: false };

function showFatal(message) {
  if (message) $("fatal-message").textContent = message;
  $("lead").hidden = true;
  showStep("step-fatal", $("step-fatal"));
  announce($("fatal-title").textContent);
}

function environmentLabel(environment) {
  return environment === "production" ? "Production" : "Sandbox";
}

function chooseIntegration(integration, { moveFocus = true } = {}) {
  state.integration = integration;
  document.body.classList.remove("env-sandbox", "env-production");
  document.body.classList.add(`env-${integration.environment}`);
  $("environment-name").textContent = environmentLabel(integration.environment);
  const first = $("username").value ? $("password") : $("username");
  showStep("step-credentials", moveFocus ? first : null);
  announce(`${environmentLabel(integration.environment)} selected. Enter your BILL sign-in details.`);
}

function applyContext(context) {
  state.context = context;
  if (context.error) {
    post("error", { errorType: context.error, errorMessage: context.message });
    showFatal(context.message);
    return;
  }
  const integrations = context.integrations || [];
  const reconnect = context.reconnect;
  if (reconnect) {
    $("username").value = reconnect.username || "";
    $("organization_id").value = reconnect.organizationId || "";
    $("lead").textContent = "Sign in again to repair the link. Your username and organization ID are filled in.";
  }
  const environments = new Set(integrations.map((i) => i.environment));
  if (!integrations.length) {
    showFatal("This link does not allow any BILL environment. Go back to the app and ask for a new link.");
  } else if (reconnect || environments.size === 1) {
    chooseIntegration(integrations[0], { moveFocus: false });
  } else {
    $("change-environment").hidden = false;
    showStep("step-environment");
  }
}

function readValues() {
  const values = {};
  for (const name of FIELDS) {
    const raw = $(name).value;
    values[name] = name === "password" ? raw : raw.trim();
  }
  return values;
}

function showErrors(fields) {
  for (const name of FIELDS) setFieldError(name, fields[name]);
  if (fields.api_token) $("api-token-details").open = true;
  const first = FIELDS.find((name) => fields[name]);
  if (first) $(first).focus();
  return first;
}

async function submitCredentials(event) {
  event.preventDefault();
  if (state.busy) return;
  const form = $("step-credentials");
  const button = $("submit");
  const values = readValues();
  setFormError("form-error", null);
  const invalid = validateCredentials(values);
  const count = Object.keys(invalid).length;
  showErrors(invalid);
  if (count) {
    announce(count === 1 ? "One field needs attention." : `${count} fields need attention.`);
    return;
  }
  const body = { username: values.username, password: values.password,
    organization_id: values.organization_id, dev_key: values.dev_key };
  if (values.api_token) body.api_token = values.api_token;

  state.busy = true;
  setBusy(form, button, true, "Checking with BILL…");
  announce("Checking your details with BILL.");
  const key = encodeURIComponent(state.integration.key);
  const url = `${base}/auth/bill/${key}?connect_session_token=${encodeURIComponent(state.token)}`;
  const answer = await postJSON(url, body);
  setBusy(form, button, false);
  state.busy = false;
  if (answer.ok && answer.body && answer.body.connectionId) {
    $("password").value = "";
    onLinked(answer.body);
    return;
  }
  const failure = describeFailure(answer.status, answer.body);
  post("error", { errorType: failure.errorType, errorMessage: failure.errorMessage });
  if (failure.fatal) {
    $("password").value = "";
    showFatal(failure.form);
    return;
  }
  if (failure.clearPassword) $("password").value = "";
  setFormError("form-error", failure.form);
  const first = showErrors(failure.fields);
  if (!first && failure.form) $("form-error").focus();
}

function onLinked(result) {
  const linked = { connectionId: result.connectionId, providerConfigKey: result.providerConfigKey };
  if (state.context.mfaRequired) {
    startMfa({ base, token: state.token, linked, onDone: (trusted) => finish(linked, trusted), onFatal: showFatal });
  } else {
    finish(linked, false);
  }
}

function finish(linked, trusted) {
  const environment = environmentLabel(state.integration.environment).toLowerCase();
  const organization = $("organization_id").value.trim();
  const verified = trusted ? " with a verified sign-in" : "";
  const next = hasPeer() ? "You can go back to the app now." : "You can close this tab and go back to the app.";
  $("success-detail").textContent = `BILL ${environment} organization ${organization} is linked${verified}. ${next}`;
  $("done").hidden = !hasPeer();
  $("lead").hidden = true;
  showStep("step-success", $("step-success"));
  announce("Your BILL account is linked.");
  post("connect", linked);
}

function close() {
  post("close");
  if (window.opener) window.close();
}

async function loadContext(token) {
  state.token = token;
  const answer = await getJSON(`${base}/connect/ui/context`, token);
  if (answer.ok && answer.body) {
    applyContext(answer.body);
    return;
  }
  const failure = describeFailure(answer.status, answer.body);
  post("error", { errorType: failure.errorType, errorMessage: failure.errorMessage });
  showFatal(failure.form);
}

function wire() {
  for (const choice of document.querySelectorAll("[data-environment]")) {
    choice.addEventListener("click", () => {
      const wanted = choice.dataset.environment;
      const integration = state.context.integrations.find((i) => i.environment === wanted);
      if (integration) chooseIntegration(integration);
    });
  }
  $("change-environment").addEventListener("click", () => {
    showStep("step-environment", document.querySelector(`[data-environment="${state.integration.environment}"]`));
  });
  $("toggle-password").addEventListener("click", () => {
    const input = $("password");
    const show = input.type === "password";
    input.type = show ? "text" : "password";
    const toggle = $("toggle-password");
    toggle.setAttribute("aria-pressed", String(show));
    toggle.firstChild.textContent = show ? "Hide" : "Show";
  });
  for (const name of FIELDS) {
    $(name).addEventListener("input", () => {
      if ($(name).getAttribute("aria-invalid")) setFieldError(name, null);
    });
  }
  $("step-credentials").addEventListener("submit", submitCredentials);
  $("close").addEventListener("click", close);
  $("done").addEventListener("click", close);
}

function start() {
  wire();
  $("close").hidden = !hasPeer();
  const embedded = $("bb-context");
  const queryToken = new URLSearchParams(window.location.search).get("session_token");
  if (embedded) {
    state.token = queryToken;
    applyContext(JSON.parse(embedded.textContent));
  } else if (queryToken) {
    loadContext(queryToken);
  } else if (!hasPeer()) {
    showFatal("This page opens from a link the app gives you. Go back to the app and choose to link BILL.");
  }
  onSessionToken((token) => {
    if (!state.token) loadContext(token);
  });
  post("ready");
}

start();
