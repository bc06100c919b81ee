// The web channel of intake (templates/requests_app/submit.html; PROTOCOL §2, §4.10).
//
// 1. The officer fills in the form. Each chosen file is hashed here (WebCrypto SHA-256)
//    and declared by name, type, size and hash. A draft's documents are fetched from the
//    portal and treated as chosen files.
// 2. "Preview" sends the fields and the files to the portal's check step, which runs every
//    check that needs no signature (the fields, the target formats, each file's type,
//    content and size, the schema and the policy), stores nothing, and answers the payload
//    to sign with a summary in words. This page shows the summary as a table, and the
//    payload's canonical form (RFC 8785) and its hash in a collapsible section: what is
//    shown is what is signed, because the hash of exactly these bytes becomes the
//    passkey's challenge.
// 3. gettext("Confirm with your passkey") asks the officer's own passkey (user verification
//    required) to sign that challenge, then posts the envelope and the files, as the API
//    takes them, to the session's submission endpoint.
// "Save as draft" keeps the fields and files, unsigned, for the officer alone.
//
// Bundled by `make assets` into static/dist/submit.js; see package.json.

import canonicalize from "canonicalize";

import { humanSize, sha256, toHex } from "./bytes.js";
import { formatMoment, gettext, interpolate, ngettext } from "./i18n.js";
import {
  confirmAndSend,
  declarations,
  declareFile,
  envelopeForm,
  fileSelectionProblem,
  jsonOf,
  postWithToken,
  sameFileProblem,
  sessionEnded,
  showProblem,
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

  const text = config.messages;
  const draftButton = root.querySelector("#draft-button");
  let declaredFiles = []; // [{file, filename, media_type, sha256, size}]
  let fileProblem = "";
  let signing = null; // {payload, canonical, digest, at, envelope}
  let draftId = config.draftId;

  const post = (url, body) => postWithToken(url, body, csrfToken);

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
      const line = name ? interpolate(gettext("%(field)s: %(message)s"), { field: name, message: text }) : text;
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
      errors.push({ field: "data_categories", message: gettext("Choose at least one category of data.") });
    }
    const from = form.elements.period_from.value;
    const to = form.elements.period_to.value;
    if (from && to && from > to) {
      errors.push({ field: "period_to", message: gettext("The period ends before it starts.") });
    }
    if (fileProblem) {
      errors.push({ field: "attachments", message: fileProblem });
    } else if (fileInput.required && declaredFiles.length === 0) {
      errors.push({ field: "attachments", message: gettext("Attach the legal document as a PDF.") });
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

  // An IP address is asked about with the window in which it was used; no other type is.
  function syncWindow(row) {
    const isIp = row.querySelector("select").value === "ip_address";
    const window = row.querySelector(".target-window");
    window.hidden = !isIp;
    for (const control of window.querySelectorAll("input")) {
      control.disabled = !isIp; // disabled fields are not sent
      control.required = isIp;
    }
  }

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
      row.querySelector("select").required = true;
      row.querySelector("input[name$='-value']").required = true;
      syncWindow(row);
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

  rows.addEventListener("change", (event) => {
    if (event.target.matches("select")) syncWindow(event.target.closest(".target-row"));
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

  /** Show the chosen files, and declare them (name, type, size, hash) for the portal. */
  function renderFiles() {
    declaredInput.value = JSON.stringify(declarations(declaredFiles));
    const body = fileTable.tBodies[0];
    body.replaceChildren();
    for (const item of declaredFiles) {
      const row = document.createElement("tr");
      const hash = cell("");
      const code = document.createElement("code");
      code.className = "identifier";
      code.textContent = item.sha256;
      hash.append(code);
      const actions = cell("");
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "link-button";
      remove.textContent = text.removeFile;
      // Its name for a screen reader says which file, as one sentence.
      remove.setAttribute("aria-label", interpolate(gettext("Remove %(name)s"), { name: item.filename }));
      remove.addEventListener("click", () => {
        declaredFiles = declaredFiles.filter((f) => f !== item);
        fileProblem = "";
        setFieldError("attachments", "");
        renderFiles();
        fileInput.focus();
      });
      actions.append(remove);
      const cells = [cell(item.filename), cell(item.media_type), cell(humanSize(item.size)), hash, actions];
      const heads = fileTable.tHead ? [...fileTable.tHead.rows[0].cells] : [];
      cells.forEach((td, index) => {
        // The stacked layout of a phone names each cell by its column.
        if (heads[index] && heads[index].textContent.trim()) td.dataset.label = heads[index].textContent.trim();
      });
      cells[0].classList.add("wrap");
      hash.classList.add("wrap");
      row.append(...cells);
      body.append(row);
    }
    fileTable.hidden = declaredFiles.length === 0;
    const count = declaredFiles.length;
    fileStatus.textContent = count
      ? interpolate(ngettext("%(count)s file ready.", "%(count)s files ready.", count), { count })
      : "";
  }

  // Chosen files join those already there (a draft's, or chosen before).
  fileInput.addEventListener("change", async () => {
    const files = Array.from(fileInput.files);
    fileInput.value = "";
    if (files.length === 0) return;
    fileProblem = fileSelectionProblem([...declaredFiles.map((f) => f.file), ...files], config);
    setFieldError("attachments", fileProblem);
    if (fileProblem) return;
    fileStatus.textContent = gettext("Computing the SHA-256 of each file…");
    previewButton.disabled = true;
    try {
      for (const file of files) {
        const item = await declareFile(file, config);
        if (declaredFiles.some((f) => f.sha256 === item.sha256)) {
          fileProblem = sameFileProblem(file);
          setFieldError("attachments", fileProblem);
          continue;
        }
        declaredFiles.push(item);
      }
    } catch (error) {
      fileProblem = gettext("This browser could not read the files. Choose them again.");
      setFieldError("attachments", fileProblem);
      console.warn("hashing failed", error);
    } finally {
      previewButton.disabled = false;
      renderFiles();
    }
  });

  /** A draft's documents, fetched from the portal, become chosen files again. */
  async function loadDraftDocuments() {
    if (!config.draftDocuments.length) return;
    fileStatus.textContent = text.documentsLoading;
    previewButton.disabled = true;
    try {
      for (const document_ of config.draftDocuments) {
        const response = await fetch(document_.url, { credentials: "same-origin" });
        if (!response.ok) throw new Error(`status ${response.status}`);
        const blob = await response.blob();
        const file = new File([blob], document_.filename, { type: document_.media_type });
        const item = await declareFile(file, config);
        if (item.sha256 !== document_.sha256) throw new Error("the document changed");
        declaredFiles.push(item);
      }
      renderFiles();
    } catch (error) {
      fileStatus.textContent = text.documentsNotLoaded;
      console.warn("draft documents", error);
    } finally {
      previewButton.disabled = false;
    }
  }
  loadDraftDocuments();

  /** The form's fields and every chosen file, as the check step and the draft take them. */
  function formWithFiles() {
    const body = new FormData(form);
    for (const item of declaredFiles) body.append("attachment", item.file, item.filename);
    if (draftId) body.append("draft", String(draftId));
    return body;
  }

  // --- Preview: the payload, canonical, and its hash ------------------------------------

  /** One line of the summary: text, and times as time elements. */
  function partsOf(parts) {
    const nodes = [];
    for (const part of parts) {
      if (part.time) {
        const time = document.createElement("time");
        time.dateTime = part.time;
        time.textContent = part.text;
        nodes.push(time);
      } else {
        nodes.push(document.createTextNode(part.text));
      }
    }
    return nodes;
  }

  function renderSummary(summary) {
    const body = root.querySelector("#preview-summary").tBodies[0];
    body.replaceChildren();
    for (const row of summary) {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = row.label;
      const td = document.createElement("td");
      if (row.items.length === 1) {
        td.append(...partsOf(row.items[0]));
      } else {
        const list = document.createElement("ul");
        list.className = "plain";
        for (const item of row.items) {
          const entry = document.createElement("li");
          entry.append(...partsOf(item));
          list.append(entry);
        }
        td.append(list);
      }
      tr.append(th, td);
      body.append(tr);
    }
  }

  async function showPreview(payload, summary) {
    const declared = (payload.request && payload.request.attachments) || [];
    const missing = declared.find((item) => !declaredFiles.some((f) => f.sha256 === item.sha256));
    if (missing) {
      showErrors([{ field: "attachments", message: gettext("The files changed. Choose them again.") }]);
      return;
    }
    const canonical = canonicalize(payload);
    const digest = await sha256(new TextEncoder().encode(canonical));
    signing = { payload, canonical, digest, at: Date.now(), envelope: null };

    renderSummary(summary);
    root.querySelector("#preview-payload").textContent = JSON.stringify(
      JSON.parse(canonical),
      null,
      2,
    );
    root.querySelector("#preview-hash").textContent = toHex(digest);
    root.querySelector("#preview-canonical").textContent = canonical;
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
    formStatus.textContent = gettext("Checking the request…");
    let response;
    try {
      response = await post(config.checkUrl, formWithFiles());
    } catch {
      formStatus.textContent = gettext("The portal could not be reached. Check the connection and try again.");
      previewButton.disabled = false;
      return false;
    }
    previewButton.disabled = false;
    formStatus.textContent = "";
    const answer = await jsonOf(response);
    if (answer === null) {
      formStatus.textContent = sessionEnded();
      return false;
    }
    if (!response.ok) {
      showErrors(answer.errors && answer.errors.length ? answer.errors : [{ field: "", message: answer.detail }]);
      return false;
    }
    await showPreview(answer.payload, answer.summary);
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

  draftButton.addEventListener("click", async () => {
    clearErrors();
    if (fileProblem) {
      showErrors([{ field: "attachments", message: fileProblem }]);
      return;
    }
    draftButton.disabled = true;
    formStatus.textContent = "";
    let response;
    try {
      response = await post(config.saveUrl, formWithFiles());
    } catch {
      formStatus.textContent = text.unreachable;
      draftButton.disabled = false;
      return;
    }
    draftButton.disabled = false;
    const answer = await jsonOf(response);
    if (answer === null) {
      formStatus.textContent = sessionEnded();
      return;
    }
    if (!response.ok) {
      if (answer.errors && answer.errors.length) showErrors(answer.errors);
      formStatus.textContent = interpolate(text.draftNotSaved, { reason: answer.detail || "" });
      return;
    }
    draftId = answer.draft;
    // The address is now the draft's: a reload opens it again.
    history.replaceState(null, "", answer.url);
    const saved = new Date(answer.saved_at);
    formStatus.textContent = interpolate(gettext("Draft saved. %(time)s"), {
      time: formatMoment(saved),
    });
  });

  editButton.addEventListener("click", () => {
    signing = null;
    preview.hidden = true;
    form.hidden = false;
    setStep("step-details");
    form.querySelector("input:not([type=hidden]), select, textarea").focus();
  });

  // --- Confirm: the passkey signs the payload's hash ---------------------------------

  /** What to do, in a sentence, for each way the browser's passkey prompt can fail; the
   * browser's own message is never shown. */
  function passkeyProblem(error) {
    switch (error && error.name) {
      case "NotAllowedError":
      case "AbortError":
        return text.passkeyCancelled;
      case "InvalidStateError":
        return text.passkeyNotHere;
      case "SecurityError":
        return text.passkeyWrongAddress;
      case "NotSupportedError":
        return text.passkeyUnsupported;
      default:
        return text.passkeyFailed;
    }
  }

  function showResult(answer) {
    root.querySelector("#result-reference").textContent = answer.reference;
    const status = root.querySelector("#result-status");
    status.textContent = config.statusLabels[answer.status] || answer.status;
    status.className = `status status-${answer.status}`;
    root.querySelector("#result-link").href = config.requestUrlTemplate.replace(
      "REFERENCE",
      encodeURIComponent(answer.reference),
    );
    // The portal writes the due time in the officer's zone and language (due_shown, plain
    // text from its own template tag); the UTC instant stays machine-readable.
    const dueCell = root.querySelector("#result-due");
    const dueTime = document.createElement("time");
    dueTime.dateTime = answer.due_at;
    dueTime.textContent = answer.due_shown || answer.due_at;
    dueCell.replaceChildren(dueTime);
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
    await confirmAndSend(config, signing, {
      button: confirmButton,
      status: confirmStatus,
      refresh: requestPreview,
      stale: gettext("The preview was a few minutes old, so the portal made it again with the current time. Check it, then confirm."),
      problemOf: passkeyProblem,
      url: config.submitUrl,
      csrfToken,
      body: (envelope) => {
        const listed = signing.payload.request.attachments || [];
        const body = envelopeForm(envelope, listed, declaredFiles);
        if (draftId) body.append("draft", String(draftId)); // the draft goes once accepted
        return body;
      },
      sending: gettext("Sending the request…"),
      lost: gettext("The answer did not arrive. Press the button again to send the same signed request."),
      sendAgain: gettext("Send the signed request again"),
      accepted: (answer) => {
        confirmStatus.textContent = "";
        showResult(answer);
      },
      refused: (problem) => showProblem(problemBox, problem),
    });
  });
}

const root = document.getElementById("submission");
if (root && root.querySelector("#submission-form")) setup(root);
