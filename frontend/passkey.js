// What the pages that sign with a passkey share (PROTOCOL §2.5): the web submission
// (submit.js) and a reply with documents (reply.js): the files' checks and hashes, the
// portal's JSON answers, the passkey's assertion over a payload's SHA-256 put in the
// envelope the portal checks, and the confirm button's work (sign, send, tell the answer).
//
// Bundled into each page's script by `make assets` (esbuild); see package.json.

import { fromBase64url, humanSize, sha256, toBase64url, toHex } from "./bytes.js";
import { gettext, interpolate, ngettext } from "./i18n.js";

const MEDIA_TYPES_BY_EXTENSION = {
  pdf: "application/pdf",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
};

export function mediaTypeOf(file, allowed) {
  if (allowed.includes(file.type)) return file.type;
  const extension = file.name.includes(".") ? file.name.split(".").pop().toLowerCase() : "";
  return MEDIA_TYPES_BY_EXTENSION[extension] || "";
}

// --- Files: checked and declared by their SHA-256 -------------------------------------

/** Why the chosen files cannot be sent ("" when they can), by the portal's limits. */
export function fileSelectionProblem(files, config) {
  if (files.length > config.maxAttachments) {
    return interpolate(
      ngettext(
        "Attach at most %(count)s file.",
        "Attach at most %(count)s files.",
        config.maxAttachments,
      ),
      { count: config.maxAttachments },
    );
  }
  let total = 0;
  for (const file of files) {
    if (!mediaTypeOf(file, config.mediaTypes)) {
      return interpolate(gettext("%(name)s: only PDF, PNG and JPEG files are accepted."), {
        name: file.name,
      });
    }
    if (file.size === 0) return interpolate(gettext("%(name)s is empty."), { name: file.name });
    if (file.size > config.maxAttachmentBytes) {
      return interpolate(gettext("%(name)s is larger than %(size)s."), {
        name: file.name,
        size: humanSize(config.maxAttachmentBytes),
      });
    }
    total += file.size;
  }
  if (total > config.maxTotalBytes) {
    return interpolate(gettext("The files are larger than %(size)s together."), {
      size: humanSize(config.maxTotalBytes),
    });
  }
  return "";
}

/** A file with its declaration: {file, filename, media_type, sha256, size}. */
export async function declareFile(file, config) {
  return {
    file,
    filename: file.name,
    media_type: mediaTypeOf(file, config.mediaTypes),
    sha256: toHex(await sha256(await file.arrayBuffer())),
    size: file.size,
  };
}

/** What to say when a chosen file is one already declared. */
export function sameFileProblem(file) {
  return interpolate(gettext("%(name)s is the same file as another one chosen."), {
    name: file.name,
  });
}

/** Each file with its declaration (name, type, SHA-256, size); throws on a duplicate. */
export async function declareFiles(files, config) {
  const declared = [];
  for (const file of files) {
    const item = await declareFile(file, config);
    if (declared.some((other) => other.sha256 === item.sha256)) {
      throw new Error(sameFileProblem(file));
    }
    declared.push(item);
  }
  return declared;
}

/** The declarations alone, as the signed payload lists them. */
export function declarations(declared) {
  return declared.map(({ filename, media_type, sha256: hash, size }) => ({
    filename,
    media_type,
    sha256: hash,
    size,
  }));
}

// --- HTTP ----------------------------------------------------------------------------

/** The JSON body of an answer, or null when the answer is not the portal's JSON
 * (a redirect to the login page once the session ended, a CSRF refusal page). */
export async function jsonOf(response) {
  if (response.type === "opaqueredirect") return null;
  const type = response.headers.get("Content-Type") || "";
  if (!type.includes("json")) return null;
  try {
    return await response.json();
  } catch {
    return null;
  }
}

/** Show the portal's refusal (a problem document, PROTOCOL §5.1) in ``box``, the page's
 * hidden alert, and move the focus there: its ``detail`` (else its ``title``) in the
 * element ``#<box id>-detail``, and its ``code`` (else its status) in ``#<box id>-code``,
 * for the platform's support. */
export function showProblem(box, problem) {
  box.querySelector(`#${box.id}-detail`).textContent = problem.detail || problem.title;
  box.querySelector(`#${box.id}-code`).textContent = problem.code || String(problem.status);
  box.hidden = false;
  box.focus();
}

/** What to say when the portal answered with something else than its JSON. */
export function sessionEnded() {
  return gettext(
    "Your session has ended or the page is out of date. Log in again in another tab, then try again here.",
  );
}

/** POST a body with the page's CSRF token, never following a redirect. */
export function postWithToken(url, body, csrfToken) {
  return fetch(url, {
    method: "POST",
    body,
    credentials: "same-origin",
    redirect: "manual",
    headers: { "X-CSRFToken": csrfToken, Accept: "application/json" },
  });
}

// --- The passkey signs the payload's hash ----------------------------------------------

/** Ask one of the officer's approved passkeys (``config.credentials``) to sign ``digest``,
 * with user verification. Rejects with the DOMException the browser gave, or a
 * NotSupportedError (no WebAuthn here) or NotAllowedError (no credential) of its own. */
export async function passkeyAssertion(config, digest) {
  if (!window.PublicKeyCredential || !navigator.credentials) {
    throw new DOMException("no WebAuthn", "NotSupportedError");
  }
  const credential = await navigator.credentials.get({
    publicKey: {
      challenge: digest,
      rpId: config.rpId,
      allowCredentials: config.credentials.map((c) => ({
        type: "public-key",
        id: fromBase64url(c.id),
        transports: c.transports,
      })),
      userVerification: "required",
      timeout: config.timeoutMs,
    },
  });
  if (!credential) throw new DOMException("no credential", "NotAllowedError");
  return credential;
}

/** The envelope of PROTOCOL §2.5: the payload and the passkey's assertion over it. */
export function envelopeText(payload, credential) {
  const response = credential.response;
  return JSON.stringify({
    payload,
    signature: {
      alg: "webauthn",
      key_id: `webauthn:${toBase64url(credential.rawId)}`,
      authenticator_data: toBase64url(response.authenticatorData),
      client_data_json: toBase64url(response.clientDataJSON),
      value: toBase64url(response.signature),
    },
  });
}

// --- Confirm and send: what the submission and the reply do alike ----------------------

/** The envelope for ``signing`` ({payload, digest, at, envelope}), made once and kept in
 * ``signing.envelope`` so that a retry sends the same bytes; null when there is nothing to
 * send yet, with what to do said in ``status``: the payload was older than the portal
 * accepts (``refresh()`` asked for a new one, and ``stale`` is said once it came), or the
 * passkey did not sign (``problemOf(error)`` says why, never the browser's own words). */
export async function signedEnvelope(config, signing, status, { refresh, stale, problemOf }) {
  if (signing.envelope) return signing.envelope;
  if (Date.now() - signing.at > config.freshSeconds * 1000) {
    // The portal accepts a signature made within five minutes of signed_at.
    if (await refresh()) status.textContent = stale;
    return null;
  }
  status.textContent = gettext("Confirm with your passkey: follow your browser's prompt.");
  let credential;
  try {
    credential = await passkeyAssertion(config, signing.digest);
  } catch (error) {
    status.textContent = problemOf(error);
    console.warn("passkey assertion failed", error && error.name);
    return null;
  }
  signing.envelope = envelopeText(signing.payload, credential);
  return signing.envelope;
}

/** The body the API takes (PROTOCOL §2.5): the envelope, then each file it declares
 * (``listed``), taken from the ``chosen`` ones by its SHA-256. */
export function envelopeForm(envelope, listed, chosen) {
  const body = new FormData();
  body.append("envelope", new Blob([envelope], { type: "application/json" }), "envelope.json");
  for (const item of listed) {
    const file = chosen.find((f) => f.sha256 === item.sha256);
    body.append("attachment", file.file, item.filename);
  }
  return body;
}

/** What the confirm button does on both pages (``page``: its elements, texts and
 * callbacks): the passkey signs (``signedEnvelope``, with ``page.refresh``, ``page.stale``
 * and ``page.problemOf``), ``page.body(envelope)`` is posted to ``page.url``, and the
 * portal's answer is told: ``page.accepted(answer)`` on 201, ``page.refused(answer)`` on a
 * refusal. After a lost answer the button sends the same bytes again, which the portal
 * answers with what it already has and never stores twice; a refused signature is never
 * sent again. */
export async function confirmAndSend(config, signing, page) {
  const { button, status } = page;
  button.disabled = true;
  try {
    const envelope = await signedEnvelope(config, signing, status, page);
    if (!envelope) return;
    status.textContent = page.sending;
    let response;
    try {
      response = await postWithToken(page.url, page.body(envelope), page.csrfToken);
    } catch {
      status.textContent = page.lost;
      button.textContent = page.sendAgain;
      return;
    }
    const answer = await jsonOf(response);
    if (answer === null) {
      status.textContent = sessionEnded();
      return;
    }
    if (response.status === 201) {
      page.accepted(answer);
      return;
    }
    status.textContent = "";
    signing.envelope = null; // a refused signature is never sent again
    button.textContent = gettext("Confirm with your passkey");
    page.refused(answer);
  } finally {
    button.disabled = false;
  }
}
