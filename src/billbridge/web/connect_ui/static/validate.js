// Field checks before anything is sent, and failed answers turned into what the page shows.

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s.]+$/;
const ORG_ID = /^008[A-Za-z0-9]{17}$/;

/** Returns {field: message} for every field that cannot be sent as typed. */
export function validateCredentials(values) {
  const errors = {};
  if (!values.username) {
    errors.username = "Enter the email you use to sign in to BILL.";
  } else if (!EMAIL.test(values.username)) {
    errors.username = "Enter the email address you sign in to BILL with, like name@company.com.";
  }
  if (!values.password) {
    errors.password = "Enter your BILL password.";
  }
  if (!values.organization_id) {
    errors.organization_id = "Enter your organization ID. It begins with 008.";
  } else if (!values.organization_id.startsWith("008")) {
    errors.organization_id =
      "Organization IDs begin with 008. Check that you copied the organization ID, not another ID.";
  } else if (!ORG_ID.test(values.organization_id)) {
    errors.organization_id =
      "Organization IDs are 20 letters and digits. Check for a missing or extra character.";
  }
  if (!values.dev_key) {
    errors.dev_key = "Enter the developer key BILL gave you.";
  } else if (/\s/.test(values.dev_key)) {
    errors.dev_key = "Developer keys have no spaces. Copy the key again from BILL's email.";
  }
  if (values.api_token && /\s/.test(values.api_token)) {
    errors.api_token = "API tokens have no spaces. Copy the token again, or leave this empty.";
  }
  return errors;
}

export function validateCode(code) {
  if (!code) return "Enter the code BILL sent to your phone.";
  if (!/^\d{4,8}$/.test(code)) return "The code is the 6 digits from BILL's message.";
  return null;
}

const FIELDS = ["username", "password", "organization_id", "dev_key", "api_token"];
const FATAL_CODES = new Set([
  "unknown_connect_session_token",
  "invalid_connect_session_token",
  "expired_connect_session_token",
  "invalid_connect_session_token_format",
  "too_many_attempts",
]);

function pathField(item) {
  const path = Array.isArray(item.path) ? item.path : [item.path];
  for (let i = path.length - 1; i >= 0; i -= 1) {
    if (FIELDS.includes(path[i])) return path[i];
  }
  return null;
}

/**
 * Turns a failed answer of the linking endpoint into what the page shows. The words of BILL's
 * refusals come from billbridge (its table of BILL's codes), with the field they concern.
 * Returns {fatal, fields: {name: message}, form: message|null, clearPassword, errorType, errorMessage}.
 */
export function describeFailure(status, body) {
  const error = (body && typeof body === "object" && body.error) || {};
  const result = { fatal: false, fields: {}, form: null, clearPassword: false };
  result.errorType = typeof error.code === "string" ? error.code : status ? `http_${status}` : "network_error";

  if (status === 401 || FATAL_CODES.has(error.code)) {
    result.fatal = true;
    result.form = error.code === "too_many_attempts"
      ? "This link has been used for too many attempts. Go back to the app and start linking again."
      : "This link has expired. Links work for 30 minutes: go back to the app and start linking again.";
  } else if (status === 0) {
    result.form = "billbridge could not be reached. Check your connection; what you typed is kept.";
  } else {
    for (const item of error.errors || []) {
      const name = item && pathField(item);
      if (name && !result.fields[name]) result.fields[name] = item.message || "Check this value.";
    }
    if (!Object.keys(result.fields).length) {
      result.form = error.message || "The account could not be linked. Try again in a moment.";
    }
    // A refused password is cleared so the next try starts from an empty field, never a stale one.
    result.clearPassword = Boolean(result.fields.password);
  }
  result.errorMessage = result.form || Object.values(result.fields)[0] || "The account could not be linked.";
  return result;
}

/** Turns a failed answer of the MFA endpoints into {fatal, field, form} (one message each). */
export function describeMfaFailure(status, body) {
  const error = (body && typeof body === "object" && body.error) || {};
  if (status === 401 || FATAL_CODES.has(error.code)) {
    return { fatal: true, form: describeFailure(status, body).form };
  }
  if (status === 0) return { form: "billbridge could not be reached. Check your connection and try again." };
  const onCode = (error.errors || []).find((e) => e && Array.isArray(e.path) && e.path.includes("code"));
  if (onCode) return { field: onCode.message };
  return { form: error.message || "The code could not be checked. Try again in a moment." };
}
