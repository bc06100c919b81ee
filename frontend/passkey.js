// What the pages that sign with a passkey share (PROTOCOL §2.5): the web submission
// (submit.js) and a reply with documents (reply.js). Bytes and text, the files' checks
// and hashes, the portal's JSON answers, and the passkey's assertion over a payload's
// SHA-256, put in the envelope the portal checks.
//
// Bundled into each page's script by `make assets` (esbuild); see package.json.

import { formatNumber, gettext, interpolate, ngettext } from "./i18n.js";

const MEDIA_TYPES_BY_EXTENSION = {
  pdf: "application/pdf",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
};

// --- Bytes and text -------------------------------------------------------------------

export function toBase64url(buffer) {
  let text = "";
  for (const byte of new Uint8Array(buffer)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64url(text) {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function sha256(data) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
}

export function humanSize(bytes) {
  const decimal = { minimumFractionDigits: 1, maximumFractionDigits: 1 };
  if (bytes < 1024) {
    return interpolate(ngettext("%(count)s byte", "%(count)s bytes", bytes), {
      count: formatNumber(bytes),
    });
  }
  if (bytes < 1024 * 1024) {
    return interpolate(gettext("%(size)s KB"), { size: formatNumber(bytes / 1024, decimal) });
  }
  return interpolate(gettext("%(size)s MB"), {
    size: formatNumber(bytes / (1024 * 1024), decimal),
  });
}

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

/** Each file with its declaration (name, type, SHA-256, size); throws on a duplicate. */
export async function declareFiles(files, config) {
  const declared = [];
  for (const file of files) {
    const digest = toHex(await sha256(await file.arrayBuffer()));
    if (declared.some((item) => item.sha256 === digest)) {
      throw new Error(
        interpolate(gettext("%(name)s is the same file as another one chosen."), {
          name: file.name,
        }),
      );
    }
    declared.push({
      file,
      filename: file.name,
      media_type: mediaTypeOf(file, config.mediaTypes),
      sha256: digest,
      size: file.size,
    });
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
 * with user verification. */
export function passkeyAssertion(config, digest) {
  return navigator.credentials.get({
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
