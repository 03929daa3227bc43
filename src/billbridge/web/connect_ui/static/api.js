// Calls to billbridge from the page; every answer becomes {ok, status, body} (status 0: no answer).

async function call(url, init) {
  let response;
  try {
    response = await fetch(url, { credentials: "omit", cache: "no-store", ...init });
  } catch {
    return { ok: false, status: 0, body: null };
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return { ok: response.ok, status: response.status, body };
}

export function getJSON(url, token) {
  return call(url, { headers: { Authorization: `Bearer ${token}` } });
}

export function postJSON(url, body, token) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  return call(url, { method: "POST", headers, body: JSON.stringify(body) });
}
