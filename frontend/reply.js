// A reply with documents on the officer's request page (PROTOCOL §4.5), signed as a
// submission is (templates/requests_app/officer/detail.html).
//
// 1. The officer writes the reply and chooses documents; each is checked and hashed here
//    (WebCrypto SHA-256) and declared by name, type, size and hash.
// 2. "Send" asks the portal for the payload to sign (its address, its clock, a nonce, the
//    reply and the declarations), canonicalises it (RFC 8785) and shows its SHA-256.
// 3. gettext("Confirm with your passkey") has the officer's approved passkey sign that hash, then
//    posts the envelope and the documents to the page's signed-reply endpoint.
//
// A reply without documents is the plain form post: no script, no passkey.
// Bundled by `make assets` into static/dist/reply.js; see package.json.

import canonicalize from "canonicalize";

import { humanSize, sha256, toHex } from "./bytes.js";
import { gettext, interpolate } from "./i18n.js";
import {
  confirmAndSend,
  declarations,
  declareFiles,
  envelopeForm,
  fileSelectionProblem,
  jsonOf,
  postWithToken,
  sessionEnded,
  showProblem,
} from "./passkey.js";

function setup(form) {
  const config = JSON.parse(document.getElementById("reply-config").textContent);
  const csrfToken = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const body = form.elements.body;
  const bodyError = document.getElementById("reply-body-error");
  const box = document.getElementById("reply-documents");
  const fileInput = document.getElementById("reply-files");
  const fileError = document.getElementById("reply-files-error");
  const fileList = document.getElementById("reply-file-list");
  const status = document.getElementById("reply-status");
  const sendButton = document.getElementById("reply-send");
  const confirm = document.getElementById("reply-confirm");
  const confirmButton = document.getElementById("reply-confirm-button");
  const confirmStatus = document.getElementById("reply-confirm-status");
  const editButton = document.getElementById("reply-edit");
  const problemBox = document.getElementById("reply-problem");

  let declared = []; // [{file, filename, media_type, sha256, size}]
  let signing = null; // {payload, digest, at, envelope}

  box.hidden = false; // the documents need this script; without it, the plain form

  function setError(element, control, message) {
    element.textContent = message;
    element.hidden = !message;
    if (message) {
      control.setAttribute("aria-invalid", "true");
      control.setAttribute("aria-describedby", element.id);
    } else {
      control.removeAttribute("aria-invalid");
    }
  }

  fileInput.addEventListener("change", async () => {
    const files = Array.from(fileInput.files);
    declared = [];
    fileList.replaceChildren();
    fileList.hidden = true;
    let problem = fileSelectionProblem(files, config);
    if (!problem && files.length) {
      status.textContent = gettext("Computing the SHA-256 of each document…");
      sendButton.disabled = true;
      try {
        declared = await declareFiles(files, config);
      } catch (error) {
        problem = error.message || gettext("This browser could not read the files. Choose them again.");
      } finally {
        sendButton.disabled = false;
        status.textContent = "";
      }
    }
    setError(fileError, fileInput, problem);
    if (problem) {
      declared = [];
      return;
    }
    for (const item of declared) {
      const entry = document.createElement("li");
      entry.textContent = interpolate(gettext("%(name)s (%(type)s, %(size)s), SHA-256 %(sha256)s"), {
        name: item.filename,
        type: item.media_type,
        size: humanSize(item.size),
        sha256: item.sha256,
      });
      fileList.append(entry);
    }
    fileList.hidden = declared.length === 0;
  });

  async function preview() {
    const data = new FormData();
    data.append("body", body.value);
    data.append("attachments", JSON.stringify(declarations(declared)));
    let response;
    try {
      response = await postWithToken(config.previewUrl, data, csrfToken);
    } catch {
      status.textContent = gettext("The portal could not be reached. Check the connection and try again.");
      return false;
    }
    const answer = await jsonOf(response);
    if (answer === null) {
      status.textContent = sessionEnded();
      return false;
    }
    if (!response.ok) {
      const errors = answer.errors && answer.errors.length ? answer.errors : [];
      const about = (field) =>
        errors.filter((e) => e.field === field).map((e) => e.message).join(" ");
      setError(bodyError, body, about("body"));
      setError(fileError, fileInput, about("attachments"));
      status.textContent = errors.length ? "" : answer.detail;
      (about("body") ? body : fileInput).focus();
      return false;
    }
    const canonical = canonicalize(answer.payload);
    const digest = await sha256(new TextEncoder().encode(canonical));
    signing = { payload: answer.payload, digest, at: Date.now(), envelope: null };
    document.getElementById("reply-hash").textContent = toHex(digest);
    document.getElementById("reply-canonical").textContent = canonical;
    const listed = document.getElementById("reply-preview-files");
    listed.replaceChildren();
    for (const item of answer.payload.message.attachments) {
      const entry = document.createElement("li");
      entry.textContent = interpolate(gettext("%(name)s (%(type)s, %(size)s)"), {
        name: item.filename,
        type: item.media_type,
        size: humanSize(item.size),
      });
      listed.append(entry);
    }
    problemBox.hidden = true;
    confirmStatus.textContent = "";
    form.hidden = true;
    confirm.hidden = false;
    confirm.focus();
    return true;
  }

  form.addEventListener("submit", async (event) => {
    if (declared.length === 0) return; // a plain reply: the form posts it
    event.preventDefault();
    setError(bodyError, body, "");
    if (!body.value.trim()) {
      setError(bodyError, body, gettext("Write your message."));
      body.focus();
      return;
    }
    sendButton.disabled = true;
    status.textContent = gettext("Checking the reply…");
    try {
      if (await preview()) status.textContent = "";
    } finally {
      sendButton.disabled = false;
    }
  });

  editButton.addEventListener("click", () => {
    signing = null;
    confirm.hidden = true;
    form.hidden = false;
    body.focus();
  });

  confirmButton.addEventListener("click", async () => {
    if (!signing) return;
    problemBox.hidden = true;
    await confirmAndSend(config, signing, {
      button: confirmButton,
      status: confirmStatus,
      refresh: preview,
      stale: gettext("The reply was prepared a few minutes ago, so the portal prepared it again with the current time. Check it, then confirm."),
      problemOf: () =>
        gettext("The passkey did not confirm the reply (cancelled, timed out, or not one of your passkeys). Nothing was sent."),
      url: config.submitUrl,
      csrfToken,
      body: (envelope) => envelopeForm(envelope, signing.payload.message.attachments, declared),
      sending: gettext("Sending the reply…"),
      lost: gettext("The answer did not arrive. Press the button again to send the same signed reply."),
      sendAgain: gettext("Send the signed reply again"),
      accepted: () => {
        confirmStatus.textContent = gettext("Sent.");
        window.location.assign(config.threadUrl);
        window.location.reload();
      },
      refused: (problem) => showProblem(problemBox, problem),
    });
  });
}

const form = document.getElementById("reply");
if (form && document.getElementById("reply-config")) setup(form);
