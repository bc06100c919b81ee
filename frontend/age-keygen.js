// Generate an age key pair in the officer's browser (templates/accounts/keys/age_recipient_add.html).
//
// The identity (AGE-SECRET-KEY-1...) exists only in this page's memory and in the file the
// officer downloads: it is never put in a form field, never sent anywhere. Only the
// recipient (age1...) goes into the form that the officer submits.
//
// Bundled by `make assets` into static/dist/age-keygen.js; see package.json.

import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { gettext } from "./i18n.js";

const ORIGIN_BROWSER = "browser";
const ORIGIN_PASTED = "pasted";

/** The text of an identity file, in the layout `age-keygen -o` writes. */
function identityFileText(identity, recipient, createdAt) {
  return `# created: ${createdAt}\n# public key: ${recipient}\n${identity}\n`;
}

function setup(root) {
  const form = root.closest("form");
  const button = root.querySelector("#age-keygen-button");
  const result = root.querySelector("#age-keygen-result");
  const download = root.querySelector("#age-keygen-download");
  const saved = root.querySelector("#age-keygen-saved");
  const status = root.querySelector("#age-keygen-status");
  const recipientInput = form.querySelector("input[name=recipient]");
  const originInput = form.querySelector("input[name=origin]");
  let objectUrl = null;
  let generated = "";

  if (!globalThis.crypto || !globalThis.crypto.getRandomValues) {
    return; // the section stays hidden; the age-keygen instructions remain
  }
  root.hidden = false;

  button.addEventListener("click", async () => {
    button.disabled = true;
    status.textContent = gettext("Generating…");
    try {
      const identity = await generateX25519Identity();
      const recipient = await identityToRecipient(identity);
      const createdAt = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
      const blob = new Blob([identityFileText(identity, recipient, createdAt)], {
        type: "text/plain",
      });
      if (objectUrl) URL.revokeObjectURL(objectUrl);
      objectUrl = URL.createObjectURL(blob);
      download.href = objectUrl;
      download.download = `age-identity-${recipient.slice(4, 12)}.txt`;

      generated = recipient;
      recipientInput.value = recipient;
      originInput.value = ORIGIN_BROWSER;
      saved.checked = false;
      saved.required = true;
      result.hidden = false;
      button.textContent = gettext("Generate another key pair");
      status.textContent = gettext(
        "A key pair was generated and the recipient filled in. Download the identity file before you enrol.",
      );
      download.focus();
    } catch (error) {
      status.textContent = gettext("This browser could not generate a key pair. Use age-keygen instead.");
      console.warn("age key generation failed", error);
    } finally {
      button.disabled = false;
    }
  });

  form.addEventListener("submit", (event) => {
    // The form is novalidate (the server's messages are the ones shown), so check here.
    if (saved.required && !saved.checked) {
      event.preventDefault();
      status.textContent = gettext("Download and save the identity file first, then tick the box.");
      saved.focus();
    }
  });

  recipientInput.addEventListener("input", () => {
    // A recipient typed or pasted over the generated one is not the browser's any more.
    const fromBrowser = generated !== "" && recipientInput.value.trim() === generated;
    originInput.value = fromBrowser ? ORIGIN_BROWSER : ORIGIN_PASTED;
    saved.required = fromBrowser;
  });
}

const root = document.getElementById("age-keygen");
if (root) setup(root);
