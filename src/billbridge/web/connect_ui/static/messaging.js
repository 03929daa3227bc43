// The postMessage protocol of Nango's Connect UI, spoken to whoever opened or embeds this page.

function peers() {
  const found = [];
  if (window.opener && !window.opener.closed) found.push(window.opener);
  if (window.parent && window.parent !== window) found.push(window.parent);
  return found;
}

/** True when an opener (popup) or a parent (iframe) can hear this page. */
export function hasPeer() {
  return peers().length > 0;
}

/** Sends {type, payload?} to the opener and the parent. They are not secret: ids and error text only. */
export function post(type, payload) {
  const message = payload === undefined ? { type } : { type, payload };
  for (const peer of peers()) {
    try {
      peer.postMessage(message, "*");
    } catch {
      // A peer that navigated away cannot be told; the others still are.
    }
  }
}

/** Calls back with the session token sent by the opener or parent, once it says `session_token`. */
export function onSessionToken(callback) {
  window.addEventListener("message", (event) => {
    if (!peers().includes(event.source)) return;
    const data = event.data;
    if (data && typeof data === "object" && data.type === "session_token" && typeof data.sessionToken === "string") {
      callback(data.sessionToken);
    }
  });
}
