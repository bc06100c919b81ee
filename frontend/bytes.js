// Bytes and text, for every page script that hashes or shows files: base64url (WebAuthn's
// encoding), hex, WebCrypto's SHA-256 and a size in the page's language.
//
// Bundled into each page's script by `make assets` (esbuild); see package.json.

import { formatNumber, gettext, interpolate, ngettext } from "./i18n.js";

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
