// The web channel of intake (templates/requests_app/submit.html; PROTOCOL §2).
//
// 1. The officer fills in the form. Each chosen file is hashed here (WebCrypto SHA-256)
//    and declared by name, type, size and hash; the bytes stay in the page until step 3.
// 2. "Preview" sends the fields (never the files) to the portal, which checks them with
//    intake's own schema and policy and answers the payload to sign. This page
//    canonicalises it (RFC 8785), hashes it, and shows both: what is shown is what is
//    signed, because the hash of exactly these bytes becomes the passkey's challenge.
// 3. "Confirm with your passkey" asks the officer's own passkey (user verification
//    required) to sign that challenge, then posts the envelope and the files, as the API
//    takes them, to the session's submission endpoint.
//
// Bundled by `make assets` into static/dist/submit.js; see package.json. The passkey and
// the files are handled by passkey.js, shared with the reply page (reply.js).

import canonicalize from "canonicalize";

import {
  SESSION_ENDED,
  envelopeText,
  fileSelectionProblem,
  humanSize,
  jsonOf,
  mediaTypeOf,
  passkeyAssertion,
  postWithToken,
  sha256,
  toHex,
} from "./passkey.js";

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

function setup(root) {
  const config = JSON.parse(document.getElementById("submission-config").textContent);
  const form = root.querySelector("#submission-form");
  const csrfToken = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const summary = root.querySelector("#submission-errors");
  const formStatus = root.querySelector("#form-status");
  const previewButton = root.querySelector("#preview-button");
  const preview = root.querySelector("#submission-preview");
  const confirmButton = root.querySelector("#confirm-button");
  const editButton = root.querySelector("#edit-button");
  const confirmStatus = root.querySelector("#confirm-status");
  const problemBox = root.querySelector("#confirm-problem");
  const result = root.querySelector("#submission-result");

  let declaredFiles = []; // [{file, filename, media_type, sha256, size}]
  let fileProblem = "";
  let signing = null; // {payload, canonical, digest, at, envelopeText}

  function post(url, body) {
    return postWithToken(url, body, csrfToken);
  }

  function setStep(id) {
    let done = true;
    for (const step of root.querySelectorAll(".steps li")) {
      if (step.id === id) {
        done = false;
        step.setAttribute("aria-current", "step");
      } else {
        step.removeAttribute("aria-current");
      }
      step.classList.toggle("done", done && step.id !== id);
    }
  }

  // --- Errors, inline and in the summary ---------------------------------------------

  function containerOf(name) {
    return form.querySelector(`[data-field="${CSS.escape(name)}"]`);
  }

  function controlsOf(element) {
    return element.querySelectorAll("input:not([type=hidden]), select, textarea");
  }

  function setFieldError(name, message) {
    const container = containerOf(name);
    const error = document.getElementById(`${name}_error`);
    if (!container || !error) return false;
    error.textContent = message;
    error.hidden = !message;
    container.classList.toggle("field-invalid", Boolean(message));
    const controls = name === "targets" ? [] : controlsOf(container);
    for (const control of controls) {
      const described = (control.getAttribute("aria-describedby") || "")
        .split(" ")
        .filter((id) => id && id !== error.id);
      if (message) {
        control.setAttribute("aria-invalid", "true");
        described.push(error.id);
      } else {
        control.removeAttribute("aria-invalid");
      }
      if (described.length) control.setAttribute("aria-describedby", described.join(" "));
      else control.removeAttribute("aria-describedby");
    }
    return true;
  }

  function clearErrors() {
    for (const error of form.querySelectorAll(".field-error")) {
      const name = error.id.replace(/_error$/, "");
      if (!error.hidden) setFieldError(name, "");
    }
    summary.hidden = true;
    summary.querySelector("ul").replaceChildren();
  }

  function showErrors(errors) {
    const byField = new Map();
    for (const { field, message } of errors) {
      byField.set(field || "", [...(byField.get(field || "") || []), message]);
    }
    const list = summary.querySelector("ul");
    list.replaceChildren();
    for (const [field, messages] of byField) {
      const text = messages.join(" ");
      const shown = field !== "" && setFieldError(field, text);
      const container = shown ? containerOf(field) : null;
      const target = container ? controlsOf(container)[0] || container : null;
      const item = document.createElement("li");
      // The summary names the field: "Please fill out this field." alone says nothing there.
      const caption = container ? container.querySelector("label, legend") : null;
      const name = caption ? caption.textContent.replace(/\s+/g, " ").trim() : field;
      const line = name ? `${name}: ${text}` : text;
      if (target && target.id) {
        const link = document.createElement("a");
        link.href = `#${target.id}`;
        link.textContent = line;
        item.append(link);
      } else {
        item.textContent = line;
      }
      list.append(item);
    }
    summary.hidden = false;
    summary.focus();
  }

  summary.addEventListener("click", (event) => {
    const link = event.target.closest("a[href^='#']");
    if (!link) return;
    const target = document.getElementById(link.getAttribute("href").slice(1));
    if (target) {
      event.preventDefault();
      target.focus();
    }
  });

  function isShown(control) {
    return !control.disabled && !control.closest("[hidden]");
  }

  /** What the browser can tell before asking the portal. */
  function clientErrors() {
    const errors = [];
    for (const control of controlsOf(form)) {
      if (control.type === "file" || control.type === "checkbox" || !isShown(control)) continue;
      if (!control.checkValidity()) {
        errors.push({ field: control.name, message: control.validationMessage });
      }
    }
    if (!form.querySelector("input[name=data_categories]:checked")) {
      errors.push({ field: "data_categories", message: "Choose at least one category of data." });
    }
    const from = form.elements.period_from.value;
    const to = form.elements.period_to.value;
    if (from && to && from > to) {
      errors.push({ field: "period_to", message: "The period ends before it starts." });
    }
    if (fileProblem) {
      errors.push({ field: "attachments", message: fileProblem });
    } else if (fileInput.required && declaredFiles.length === 0) {
      errors.push({ field: "attachments", message: "Attach the legal document as a PDF." });
    }
    return errors;
  }

  // Inline validation: a field is checked when the officer leaves it after typing, and
  // its message goes away as soon as it is right.
  const touched = new Set();
  form.addEventListener("input", (event) => {
    const control = event.target;
    if (!control.name) return;
    touched.add(control.name);
    const error = document.getElementById(`${control.name}_error`);
    if (error && !error.hidden && control.checkValidity()) setFieldError(control.name, "");
  });
  form.addEventListener("focusout", (event) => {
    const control = event.target;
    if (!control.name || !touched.has(control.name) || control.type === "checkbox") return;
    if (control.type === "file" || !isShown(control)) return;
    setFieldError(control.name, control.checkValidity() ? "" : control.validationMessage);
  });
  form.addEventListener("change", (event) => {
    if (event.target.name === "data_categories") setFieldError("data_categories", "");
  });

  // --- Targets: add and remove rows ----------------------------------------------------

  const rows = form.querySelector("#target-rows");
  const rowTemplate = root.querySelector("#target-row-template");
  const totalForms = form.elements["targets-TOTAL_FORMS"];
  const maxRows = Number(form.elements["targets-MAX_NUM_FORMS"].value);
  const addButton = form.querySelector("#target-add");
  const NUMBERED = ["id", "name", "for", "aria-describedby", "data-field"];

  function renumberTargets() {
    const all = rows.querySelectorAll(".target-row");
    all.forEach((row, index) => {
      for (const element of row.querySelectorAll("*")) {
        for (const attribute of NUMBERED) {
          const value = element.getAttribute(attribute);
          if (value) {
            element.setAttribute(
              attribute,
              value.replace(/targets-(\d+|__prefix__)-/g, `targets-${index}-`),
            );
          }
        }
      }
      for (const number of row.querySelectorAll(".target-number")) {
        number.textContent = String(index + 1);
      }
      // Django leaves "required" off formset fields; every row here is a target.
      for (const control of controlsOf(row)) control.required = true;
      row.querySelector(".target-remove").hidden = all.length === 1;
    });
    totalForms.value = String(all.length);
    addButton.hidden = all.length >= maxRows;
  }

  addButton.addEventListener("click", () => {
    rows.append(rowTemplate.content.cloneNode(true));
    renumberTargets();
    const added = rows.querySelector(".target-row:last-child");
    added.querySelector("input").focus();
  });

  rows.addEventListener("click", (event) => {
    const remove = event.target.closest(".target-remove");
    if (!remove) return;
    const row = remove.closest(".target-row");
    const previous = row.previousElementSibling || row.nextElementSibling;
    row.remove();
    renumberTargets();
    (previous ? previous.querySelector("input") : addButton).focus();
  });
  renumberTargets();

  // --- Non-disclosure ----------------------------------------------------------------

  const nonDisclosure = form.elements.non_disclosure;
  const nonDisclosureDetails = form.querySelector("#non-disclosure-details");
  function syncNonDisclosure() {
    nonDisclosureDetails.hidden = !nonDisclosure.checked;
    for (const control of controlsOf(nonDisclosureDetails)) {
      control.disabled = !nonDisclosure.checked; // disabled fields are not sent
      control.required = nonDisclosure.checked;
    }
  }
  nonDisclosure.addEventListener("change", syncNonDisclosure);
  syncNonDisclosure();

  // --- Files: checked and hashed in the browser ----------------------------------------

  const fileInput = form.querySelector("#attachment-files");
  const fileTable = root.querySelector("#attachment-list");
  const fileStatus = root.querySelector("#attachment-status");
  const declaredInput = form.elements.attachments;

  fileInput.addEventListener("change", async () => {
    const files = Array.from(fileInput.files);
    declaredFiles = [];
    declaredInput.value = "[]";
    fileTable.hidden = true;
    fileTable.tBodies[0].replaceChildren();
    fileProblem = fileSelectionProblem(files, config);
    setFieldError("attachments", fileProblem);
    if (fileProblem || files.length === 0) {
      fileStatus.textContent = "";
      return;
    }
    fileStatus.textContent = "Computing the SHA-256 of each file…";
    previewButton.disabled = true;
    try {
      const declared = [];
      for (const file of files) {
        const digest = toHex(await sha256(await file.arrayBuffer()));
        if (declared.some((item) => item.sha256 === digest)) {
          fileProblem = `${file.name} is the same file as another one chosen.`;
          setFieldError("attachments", fileProblem);
          fileStatus.textContent = "";
          return;
        }
        declared.push({
          file,
          filename: file.name,
          media_type: mediaTypeOf(file, config.mediaTypes),
          sha256: digest,
          size: file.size,
        });
      }
      declaredFiles = declared;
      declaredInput.value = JSON.stringify(
        declared.map(({ filename, media_type, sha256: hash, size }) => ({
          filename,
          media_type,
          sha256: hash,
          size,
        })),
      );
      for (const item of declared) {
        const row = document.createElement("tr");
        const hash = cell("");
        const code = document.createElement("code");
        code.className = "identifier";
        code.textContent = item.sha256;
        hash.append(code);
        row.append(cell(item.filename), cell(item.media_type), cell(humanSize(item.size)), hash);
        fileTable.tBodies[0].append(row);
      }
      fileTable.hidden = false;
      fileStatus.textContent = `${declared.length} file${declared.length === 1 ? "" : "s"} ready.`;
    } catch (error) {
      fileProblem = "This browser could not read the files. Choose them again.";
      setFieldError("attachments", fileProblem);
      fileStatus.textContent = "";
      console.warn("hashing failed", error);
    } finally {
      previewButton.disabled = false;
    }
  });

  // --- Preview: the payload, canonical, and its hash ------------------------------------

  async function showPreview(payload) {
    const declared = (payload.request && payload.request.attachments) || [];
    const missing = declared.find((item) => !declaredFiles.some((f) => f.sha256 === item.sha256));
    if (missing) {
      showErrors([{ field: "attachments", message: "The files changed. Choose them again." }]);
      return;
    }
    const canonical = canonicalize(payload);
    const digest = await sha256(new TextEncoder().encode(canonical));
    signing = { payload, canonical, digest, at: Date.now(), envelopeText: null };

    root.querySelector("#preview-payload").textContent = JSON.stringify(
      JSON.parse(canonical),
      null,
      2,
    );
    root.querySelector("#preview-hash").textContent = toHex(digest);
    root.querySelector("#preview-canonical").textContent = canonical;
    const fileList = root.querySelector("#preview-files");
    fileList.replaceChildren();
    if (declared.length === 0) {
      fileList.textContent = "None";
    } else {
      const list = document.createElement("ul");
      for (const item of declared) {
        const entry = document.createElement("li");
        entry.textContent = `${item.filename} (${item.media_type}, ${humanSize(item.size)})`;
        list.append(entry);
      }
      fileList.append(list);
    }
    confirmStatus.textContent = "";
    problemBox.hidden = true;
    confirmButton.disabled = false;
    form.hidden = true;
    preview.hidden = false;
    setStep("step-preview");
    preview.focus();
  }

  async function requestPreview() {
    previewButton.disabled = true;
    formStatus.textContent = "Checking the request…";
    let response;
    try {
      response = await post(config.previewUrl, new FormData(form));
    } catch {
      formStatus.textContent = "The portal could not be reached. Check the connection and try again.";
      previewButton.disabled = false;
      return false;
    }
    previewButton.disabled = false;
    formStatus.textContent = "";
    const answer = await jsonOf(response);
    if (answer === null) {
      formStatus.textContent = SESSION_ENDED;
      return false;
    }
    if (!response.ok) {
      showErrors(answer.errors && answer.errors.length ? answer.errors : [{ field: "", message: answer.detail }]);
      return false;
    }
    await showPreview(answer.payload);
    return true;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const errors = clientErrors();
    if (errors.length) {
      showErrors(errors);
      return;
    }
    await requestPreview();
  });

  editButton.addEventListener("click", () => {
    signing = null;
    preview.hidden = true;
    form.hidden = false;
    setStep("step-details");
    form.querySelector("input:not([type=hidden]), select, textarea").focus();
  });

  // --- Confirm: the passkey signs the payload's hash ---------------------------------

  function showProblem(problem) {
    root.querySelector("#confirm-problem-detail").textContent = problem.detail || problem.title;
    root.querySelector("#confirm-problem-code").textContent = problem.code || String(problem.status);
    problemBox.hidden = false;
    problemBox.focus();
  }

  function showResult(answer) {
    root.querySelector("#result-reference").textContent = answer.reference;
    root.querySelector("#result-status").textContent = answer.status;
    const due = new Date(answer.due_at);
    root.querySelector("#result-due").textContent =
      `${due.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" })} (${answer.due_at})`;
    const receipt = JSON.stringify(answer.receipt, null, 2);
    root.querySelector("#result-receipt").textContent = receipt;
    const download = root.querySelector("#result-receipt-download");
    download.href = URL.createObjectURL(new Blob([`${receipt}\n`], { type: "application/json" }));
    download.download = `receipt-${answer.reference}.json`;
    preview.hidden = true;
    result.hidden = false;
    setStep("step-done");
    result.focus();
  }

  confirmButton.addEventListener("click", async () => {
    if (!signing) return;
    problemBox.hidden = true;
    confirmButton.disabled = true;
    try {
      if (!signing.envelopeText) {
        if (Date.now() - signing.at > config.freshSeconds * 1000) {
          // The portal accepts a signature made within five minutes of signed_at.
          if (await requestPreview()) {
            confirmStatus.textContent =
              "The preview was a few minutes old, so the portal made it again with the current time. Check it, then confirm.";
          }
          return;
        }
        confirmStatus.textContent = "Confirm with your passkey: follow your browser's prompt.";
        let credential;
        try {
          credential = await passkeyAssertion(config, signing.digest);
        } catch (error) {
          confirmStatus.textContent =
            "The passkey did not confirm the request (cancelled, timed out, or not one of your passkeys). Nothing was sent.";
          console.warn("passkey assertion failed", error);
          return;
        }
        signing.envelopeText = envelopeText(signing.payload, credential);
      }

      confirmStatus.textContent = "Sending the request…";
      const body = new FormData();
      body.append(
        "envelope",
        new Blob([signing.envelopeText], { type: "application/json" }),
        "envelope.json",
      );
      for (const item of signing.payload.request.attachments || []) {
        const chosen = declaredFiles.find((f) => f.sha256 === item.sha256);
        body.append("attachment", chosen.file, item.filename);
      }
      let response;
      try {
        response = await post(config.submitUrl, body);
      } catch {
        // The same bytes may be sent again: the portal answers a retry with the original
        // reference and never makes a second request.
        confirmStatus.textContent =
          "The answer did not arrive. Press the button again to send the same signed request.";
        confirmButton.textContent = "Send the signed request again";
        return;
      }
      const answer = await jsonOf(response);
      if (answer === null) {
        confirmStatus.textContent = SESSION_ENDED;
        return;
      }
      if (response.status === 201) {
        confirmStatus.textContent = "";
        showResult(answer);
        return;
      }
      confirmStatus.textContent = "";
      signing.envelopeText = null; // a refused signature is never sent again
      confirmButton.textContent = "Confirm with your passkey";
      showProblem(answer);
    } finally {
      confirmButton.disabled = false;
    }
  });
}

const root = document.getElementById("submission");
if (root && root.querySelector("#submission-form")) setup(root);
