// Latchkey pages: the WebAuthn calls (register a security key, sign in with one).
// No dependencies. Binary values travel as unpadded base64url.
"use strict";

function b64urlToBytes(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const padded = b64 + "===".slice((b64.length + 3) % 4);
  const raw = atob(padded);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out.buffer;
}

function bytesToB64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let raw = "";
  for (let i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
  return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

async function postJson(path, body) {
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const err = new Error(data.message || ("HTTP " + response.status));
    err.code = data.code || "HTTP-" + response.status;
    throw err;
  }
  return data;
}

function say(text, isError) {
  const status = document.getElementById("key-status");
  if (!status) return;
  status.textContent = text;
  status.className = isError ? "error" : "ok";
}

function explain(err) {
  if (err.code) return err.code + ": " + err.message;
  if (err.name === "NotAllowedError") return "The security key did not respond, or the request was cancelled.";
  if (err.name === "InvalidStateError") return "This security key is already registered.";
  return (err.name || "Error") + ": " + err.message;
}

async function addKey() {
  const name = (document.getElementById("key-name").value || "").trim();
  say("Touch your security key and enter its PIN…", false);
  try {
    const start = await postJson("/web/security-keys/register/begin", { name: name });
    const pk = start.public_key;
    pk.challenge = b64urlToBytes(pk.challenge);
    pk.user.id = b64urlToBytes(pk.user.id);
    pk.excludeCredentials = (pk.excludeCredentials || []).map((c) => ({ type: c.type, id: b64urlToBytes(c.id) }));
    const cred = await navigator.credentials.create({ publicKey: pk });
    const done = await postJson("/web/security-keys/register/finish", {
      ceremony: start.ceremony,
      name: name,
      credential: {
        id: cred.id,
        response: {
          clientDataJSON: bytesToB64url(cred.response.clientDataJSON),
          attestationObject: bytesToB64url(cred.response.attestationObject),
        },
      },
    });
    say("Security key added.", false);
    window.location.assign(done.redirect);
  } catch (err) {
    say(explain(err), true);
  }
}

async function signInWithKey(button) {
  const upnField = document.getElementById("key-upn");
  const upn = upnField ? upnField.value.trim() : "";
  say("Touch your security key and enter its PIN…", false);
  try {
    const start = await postJson("/web/signin/key/begin", { upn: upn || null });
    const pk = start.public_key;
    pk.challenge = b64urlToBytes(pk.challenge);
    pk.allowCredentials = (pk.allowCredentials || []).map((c) => ({ type: c.type, id: b64urlToBytes(c.id) }));
    const cred = await navigator.credentials.get({ publicKey: pk });
    const r = cred.response;
    const done = await postJson("/web/signin/key/finish", {
      ceremony: start.ceremony,
      next: button.dataset.next || null,
      credential: {
        id: cred.id,
        response: {
          clientDataJSON: bytesToB64url(r.clientDataJSON),
          authenticatorData: bytesToB64url(r.authenticatorData),
          signature: bytesToB64url(r.signature),
          userHandle: r.userHandle ? bytesToB64url(r.userHandle) : null,
        },
      },
    });
    say("Signed in.", false);
    window.location.assign(done.redirect);
  } catch (err) {
    say(explain(err), true);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const add = document.getElementById("add-key");
  if (add) add.addEventListener("click", () => addKey());
  const signin = document.getElementById("key-signin");
  if (signin) signin.addEventListener("click", () => signInWithKey(signin));
});
