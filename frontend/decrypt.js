// Open a sealed response in the officer's browser (templates/requests_app/delivery/decrypt.html;
// PROTOCOL §6).
//
// 1. The officer chooses their age identity file. This page reads it, checks that it holds
//    age identities, and matches them against the recipients the response was sealed to.
//    The identity is never put in a form, a URL, storage or a request: it stays in this
//    page's memory for as long as the opening takes.
// 2. The page downloads the sealed file with the session: the same POST, audited and
//    counted, as the Download button of the list. Its size and SHA-256 must be the listed ones.
// 3. age-encryption (the age format's reference JavaScript implementation) decrypts it,
//    fflate reads the ZIP, and WebCrypto verifies the portal's Ed25519 signature over
//    response.json exactly as it is in the ZIP. Each file under files/, and the certificate
//    of authenticity (certificate.pdf), is checked against the size and SHA-256 that
//    response.json lists for it.
// 4. The answer is shown as tables built with textContent only (the records are the
//    platform's data and never markup), and each file can be saved from memory.
//
// Bundled by `make assets` into static/dist/decrypt.js; see package.json.

import { Decrypter, identityToRecipient } from "age-encryption";
import { unzipSync } from "fflate";

import { humanSize, sha256, toHex } from "./bytes.js";
import { appendSentence, formatMoment, gettext, interpolate, pgettext } from "./i18n.js";

const MAX_IDENTITY_FILE = 64 * 1024;
const RESPONSE_JSON = "response.json";
const RESPONSE_SIG = "response.json.sig";
const FILES_PREFIX = "files/";
const CERTIFICATE = "certificate.pdf";

// The texts are looked up when shown (the catalog is the page's language).
const SESSION_ENDED = () =>
  gettext(
    "Your session has ended or the page is out of date. Log in again in another tab, then reload this page.",
  );
const NOT_AN_IDENTITY = () =>
  gettext(
    "This is not an age identity file. Choose the file age-keygen made (it has a line starting with AGE-SECRET-KEY-1), not the recipient (age1…) or the response itself.",
  );
const DAMAGED = () =>
  gettext(
    "The sealed file could not be decrypted: it is damaged. Download it again; if this happens again, ask the platform through the request's thread.",
  );

/** A failure the officer can act on; its message is shown as it is. */
class Refusal extends Error {}

// --- Bytes and text -------------------------------------------------------------------

async function sha256Hex(data) {
  return toHex(await sha256(data));
}

function derOfPem(pem) {
  const body = pem.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, "").replace(/\s+/g, "");
  return Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function code(text) {
  return element("code", text, "identifier");
}

// --- The steps ------------------------------------------------------------------------

/** The identities of an identity file (as age-keygen writes it: comments, then keys). */
async function identitiesOf(file) {
  if (!file) throw new Refusal(gettext("Choose your age identity file first."));
  if (file.size > MAX_IDENTITY_FILE) throw new Refusal(NOT_AN_IDENTITY());
  const text = await file.text();
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"));
  if (!lines.length) throw new Refusal(NOT_AN_IDENTITY());
  const identities = [];
  for (const line of lines) {
    if (!line.startsWith("AGE-SECRET-KEY-")) throw new Refusal(NOT_AN_IDENTITY());
    let recipient;
    try {
      recipient = await identityToRecipient(line);
    } catch {
      throw new Refusal(NOT_AN_IDENTITY());
    }
    identities.push({ identity: line, recipient });
  }
  return identities;
}

function wrongIdentity(identities, recipients) {
  const own = identities.map((i) => i.recipient).join(", ");
  return new Refusal(
    interpolate(
      gettext(
        "This identity file does not open this response. Its recipient is %(own)s; the response was sealed to %(recipients)s. Choose the identity file of one of those.",
      ),
      { own, recipients: recipients.join(", ") },
    ),
  );
}

async function download(config) {
  let response;
  try {
    response = await fetch(config.download_url, {
      method: "POST",
      credentials: "same-origin",
      redirect: "manual",
      cache: "no-store",
      headers: { "X-CSRFToken": config.csrf_token },
    });
  } catch {
    throw new Refusal(gettext("The portal could not be reached. Check your connection and try again."));
  }
  if (response.type === "opaqueredirect" || response.status === 403) {
    throw new Refusal(SESSION_ENDED());
  }
  if (response.status === 410) {
    throw new Refusal(gettext("This response has expired and is no longer available. Nothing was downloaded."));
  }
  if (!response.ok) {
    throw new Refusal(
      interpolate(gettext("The portal did not send the file (HTTP %(status)s). Try again."), {
        status: response.status,
      }),
    );
  }
  const sealed = new Uint8Array(await response.arrayBuffer());
  if (sealed.length !== config.size || (await sha256Hex(sealed)) !== config.sha256) {
    throw new Refusal(
      interpolate(
        gettext(
          "The download is corrupted: it is not the file the portal sealed (%(size)s, SHA-256 %(sha256)s). Nothing was opened. Try again.",
        ),
        { size: humanSize(config.size), sha256: config.sha256 },
      ),
    );
  }
  return sealed;
}

async function decrypt(sealed, identities) {
  const decrypter = new Decrypter();
  for (const { identity } of identities) decrypter.addIdentity(identity);
  try {
    return await decrypter.decrypt(sealed);
  } catch (error) {
    if (/no identity matched/.test(String(error && error.message))) {
      throw new Refusal(gettext("This identity file does not open this response. Choose the identity file of one of the recipients listed above."));
    }
    throw new Refusal(DAMAGED());
  }
}

function unzip(plaintext) {
  let members;
  try {
    members = unzipSync(plaintext);
  } catch {
    throw new Refusal(DAMAGED());
  }
  const get = (name) => (Object.hasOwn(members, name) ? members[name] : null);
  const body = get(RESPONSE_JSON);
  const signature = get(RESPONSE_SIG);
  if (!body || !signature) {
    throw new Refusal(gettext("The file opened, but it holds no response.json and signature: it is not a response of this portal."));
  }
  return { members, get, body, signature };
}

/** "valid", "invalid", or "unchecked" (a browser without Ed25519 in WebCrypto). */
async function signatureState(portalKey, signature, body) {
  let key;
  try {
    key = await crypto.subtle.importKey("spki", derOfPem(portalKey.public_key_pem), { name: "Ed25519" }, false, [
      "verify",
    ]);
  } catch {
    return "unchecked";
  }
  if (signature.length !== 64) return "invalid";
  return (await crypto.subtle.verify({ name: "Ed25519" }, key, signature, body)) ? "valid" : "invalid";
}

function parseDocument(body) {
  try {
    const response = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
    if (response && typeof response === "object" && Array.isArray(response.records)) return response;
  } catch {
    // shown below
  }
  throw new Refusal(gettext("response.json is not a response document. Do not rely on this file."));
}

/** Whether the ZIP's bytes for a listed file are the ones listed: matches, differs, missing. */
async function fileState(listing, bytes) {
  if (!bytes) return "missing";
  return bytes.length === listing.size && (await sha256Hex(bytes)) === listing.sha256 ? "matches" : "differs";
}

/** The certificate of authenticity response.json lists (PROTOCOL §6.8), checked; or null. */
async function checkedCertificate(response, archive) {
  const listing = response.certificate;
  if (!listing || typeof listing !== "object" || listing.name !== CERTIFICATE) return null;
  const bytes = archive.get(CERTIFICATE);
  return { listing, bytes, state: await fileState(listing, bytes) };
}

/** Each file response.json lists, with what the ZIP holds for it and whether it matches. */
async function checkedFiles(response, archive) {
  const listed = [];
  const names = new Set();
  if (response.certificate && response.certificate.name === CERTIFICATE) names.add(CERTIFICATE);
  for (const [index, answer] of response.records.entries()) {
    for (const file of Array.isArray(answer.files) ? answer.files : []) {
      const bytes = typeof file.name === "string" ? archive.get(file.name) : null;
      const state = await fileState(file, bytes);
      names.add(file.name);
      listed.push({ target: index, file, bytes, state });
    }
  }
  const unlisted = Object.keys(archive.members).filter(
    (name) => name !== RESPONSE_JSON && name !== RESPONSE_SIG && !names.has(name) && !name.endsWith("/"),
  );
  return { listed, unlisted };
}

// --- Showing the answer ---------------------------------------------------------------

function labelOf(map, value) {
  return (map && Object.hasOwn(map, value) && map[value]) || String(value);
}

function cellText(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function columnsOf(items) {
  const columns = new Set();
  for (const item of items) for (const key of Object.keys(item)) columns.add(key);
  return [...columns].sort((a, b) => (a === "at" ? -1 : b === "at" ? 1 : a.localeCompare(b)));
}

function recordsTable(caption, items, labels) {
  const table = element("table", null, "stack");
  table.append(element("caption", caption));
  const columns = columnsOf(items);
  const headRow = element("tr");
  for (const column of columns) {
    const th = element("th", labelOf(labels.columns, column));
    th.scope = "col";
    headRow.append(th);
  }
  const head = element("thead");
  head.append(headRow);
  const body = element("tbody");
  for (const item of items) {
    const row = element("tr");
    for (const column of columns) {
      const td = element("td", cellText(item[column]), "wrap");
      td.dataset.label = labelOf(labels.columns, column);
      row.append(td);
    }
    body.append(row);
  }
  table.append(head, body);
  return table;
}

function targetLabel(target, labels) {
  if (!target || typeof target !== "object") return gettext("Target");
  return interpolate(gettext("%(type)s: %(value)s"), {
    type: labelOf(labels.target_types, target.type),
    value: target.value,
  });
}

function renderRecords(container, response, labels) {
  container.replaceChildren();
  if (!response.records.length) container.append(element("p", gettext("No target is in this response.")));
  for (const answer of response.records) {
    const article = element("article", null, "card target-records");
    article.append(element("h4", targetLabel(answer.target, labels)));
    const records = answer.records && typeof answer.records === "object" ? answer.records : {};
    if (!answer.found) {
      article.append(element("p", gettext("No account matches this target. Nothing was disclosed for it.")));
    } else if (!Object.keys(records).length) {
      article.append(element("p", gettext("Nothing in the approved categories.")));
    }
    for (const category of Object.keys(records).sort()) {
      const value = records[category];
      const label = labelOf(labels.categories, category);
      const items = (Array.isArray(value) ? value : [value]).filter((item) => item && typeof item === "object");
      if (!items.length) {
        const empty = element("p");
        appendSentence(empty, gettext("%(category)s: none in the approved period."), {
          category: element("strong", label),
        });
        article.append(empty);
        continue;
      }
      const caption = Array.isArray(value)
        ? interpolate(gettext("%(category)s (%(count)s)"), { category: label, count: items.length })
        : label;
      article.append(recordsTable(caption, items, labels));
    }
    container.append(article);
  }
}

function renderSummary(list, response, labels, portalKey, certificate) {
  const decision = response.decision && typeof response.decision === "object" ? response.decision : {};
  const period = decision.period && typeof decision.period === "object" ? decision.period : {};
  const categories = Array.isArray(decision.categories) ? decision.categories : [];
  const rows = [
    [gettext("Request"), code(response.reference)],
    [gettext("Case reference"), response.case_reference],
    [gettext("Decision"), labelOf(labels.outcomes, decision.outcome)],
    [gettext("Categories"), categories.map((c) => labelOf(labels.categories, c)).join(", ")],
    [
      gettext("Period"),
      interpolate(gettext("%(from)s to %(to)s"), { from: period.from, to: period.to }),
    ],
    [gettext("Issued at"), issuedAt(response.issued_at)],
    [
      gettext("Note from the platform"),
      element("span", response.note || pgettext("no note", "None."), "prewrap"),
    ],
    [gettext("Signed by"), code(response.signed_by)],
  ];
  if (certificate) {
    const [className, text] = FILE_STATES[certificate.state]();
    const state = element(
      "span",
      interpolate(gettext("%(name)s: %(state)s"), { name: CERTIFICATE, state: text }),
      className,
    );
    rows.push([gettext("Certificate of authenticity"), state]);
  }
  list.replaceChildren();
  for (const [term, value] of rows) {
    const dd = element("dd");
    dd.append(value instanceof Node ? value : String(value ?? ""));
    list.append(element("dt", term), dd);
  }
  if (response.signed_by !== portalKey.key_id) {
    const dd = element(
      "dd",
      interpolate(gettext("The portal's key is %(key)s: this response names another key."), {
        key: portalKey.key_id,
      }),
      "todo",
    );
    list.append(element("dt", gettext("Warning")), dd);
  }
}

const FILE_STATES = {
  matches: () => ["ok", gettext("Matches its listing")],
  differs: () => ["todo", gettext("DIFFERS from its listing: do not rely on it")],
  missing: () => ["todo", gettext("Missing from the ZIP")],
};

/** When the response was issued, in the viewer's zone (the instant itself for machines). */
function issuedAt(value) {
  if (typeof value !== "string" || Number.isNaN(Date.parse(value))) return cellText(value);
  const time = element("time", formatMoment(value));
  time.dateTime = value;
  return time;
}

function renderFiles(container, checked, response, labels) {
  container.replaceChildren();
  if (!checked.listed.length) {
    container.append(element("p", gettext("The response holds no files.")));
  } else {
    const table = element("table", null, "stack");
    table.append(
      element("caption", interpolate(gettext("Files (%(count)s)"), { count: checked.listed.length })),
    );
    const headRow = element("tr");
    const columns = [
      gettext("File"),
      gettext("Target"),
      gettext("Category"),
      gettext("Media type"),
      gettext("Size"),
      gettext("SHA-256"),
      gettext("Check"),
    ];
    for (const column of columns) {
      const th = element("th", column);
      th.scope = "col";
      headRow.append(th);
    }
    const head = element("thead");
    head.append(headRow);
    const body = element("tbody");
    for (const { target, file, state } of checked.listed) {
      const row = element("tr");
      const [className, text] = FILE_STATES[state]();
      const check = element("td");
      check.append(element("span", text, className));
      const name = element("td");
      name.append(element("code", file.name));
      const digest = element("td");
      digest.append(code(file.sha256));
      const cells = [
        name,
        element("td", targetLabel(response.records[target].target, labels), "wrap"),
        element("td", labelOf(labels.categories, file.category)),
        element("td", file.media_type),
        element("td", humanSize(Number(file.size))),
        digest,
        check,
      ];
      cells.forEach((cell, index) => {
        cell.dataset.label = columns[index];
      });
      name.classList.add("wrap");
      digest.classList.add("wrap");
      row.append(...cells);
      body.append(row);
    }
    table.append(head, body);
    container.append(table);
  }
  if (checked.unlisted.length) {
    const warning = element(
      "p",
      interpolate(
        gettext(
          "The ZIP also holds files that response.json does not list, not offered here: %(names)s.",
        ),
        { names: checked.unlisted.join(", ") },
      ),
      "message warning",
    );
    container.append(warning);
  }
}

function setup(root) {
  const config = JSON.parse(document.getElementById("decrypt-config").textContent);
  const input = root.querySelector("#identity-file");
  const button = root.querySelector("#decrypt-button");
  const status = root.querySelector("#decrypt-status");
  const errorBox = root.querySelector("#decrypt-error");
  const result = document.getElementById("decrypt-result");
  const signatureBox = result.querySelector("#signature-status");
  const saves = result.querySelector("#response-saves");
  let objectUrls = [];

  if (!globalThis.crypto || !globalThis.crypto.subtle) return; // the section stays hidden
  root.hidden = false;

  function reset() {
    for (const url of objectUrls) URL.revokeObjectURL(url);
    objectUrls = [];
    result.hidden = true;
    errorBox.hidden = true;
    errorBox.textContent = "";
    saves.replaceChildren();
  }

  function fail(message) {
    status.textContent = "";
    errorBox.textContent = message;
    errorBox.hidden = false;
    errorBox.focus();
  }

  function saveLink(label, bytes, filename) {
    // Always application/octet-stream: a file of the platform's (an HTML page, say) is
    // saved, never rendered in the portal's origin.
    const url = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
    objectUrls.push(url);
    const link = element("a", label, "button secondary");
    link.href = url;
    link.download = filename;
    const item = element("li");
    item.append(link);
    saves.append(item);
  }

  function showSignature(state, portalKey) {
    signatureBox.replaceChildren();
    const box = element("div", null, state === "valid" ? "message success" : "message warning");
    const line = element("p");
    if (state === "valid") {
      line.append(element("strong", gettext("Signature valid.")), " ");
      appendSentence(
        line,
        gettext(
          "response.json is signed by the portal key %(key)s. Compare this key id with the one the portal's operator gave you.",
        ),
        { key: code(portalKey.key_id) },
      );
    } else {
      line.append(
        element("strong", gettext("Signature not checked.")),
        " ",
        gettext(
          "This browser cannot verify Ed25519 signatures. Save response.json and response.json.sig and verify them with openssl before you rely on them.",
        ),
      );
    }
    box.append(line);
    signatureBox.append(box);
  }

  async function open() {
    reset();
    status.textContent = gettext("Reading the identity file…");
    const identities = await identitiesOf(input.files[0]);
    const matching = identities.filter((i) => config.recipients.includes(i.recipient));
    if (!matching.length) throw wrongIdentity(identities, config.recipients);

    status.textContent = gettext("Downloading the sealed file…");
    const sealed = await download(config);
    status.textContent = gettext("Decrypting…");
    const archive = unzip(await decrypt(sealed, matching));

    status.textContent = gettext("Checking the portal's signature…");
    const state = await signatureState(config.portal_key, archive.signature, archive.body);
    if (state === "invalid") {
      throw new Refusal(
        gettext("The signature does not verify: response.json is not what the portal signed. Do not rely on this response; ask the platform through the request's thread."),
      );
    }
    const response = parseDocument(archive.body);
    if (response.reference !== config.reference) {
      throw new Refusal(
        interpolate(gettext("This file answers %(found)s, not %(expected)s. Do not rely on it here."), {
          found: response.reference,
          expected: config.reference,
        }),
      );
    }
    const checked = await checkedFiles(response, archive);
    const certificate = await checkedCertificate(response, archive);

    showSignature(state, config.portal_key);
    renderSummary(result.querySelector("#response-summary"), response, config.labels, config.portal_key, certificate);
    renderRecords(result.querySelector("#response-records"), response, config.labels);
    renderFiles(result.querySelector("#response-files"), checked, response, config.labels);
    result.querySelector("#response-raw").textContent = JSON.stringify(response, null, 2);
    saveLink(gettext("Save response.json"), archive.body, RESPONSE_JSON);
    saveLink(gettext("Save response.json.sig"), archive.signature, RESPONSE_SIG);
    if (certificate && certificate.state === "matches") {
      saveLink(interpolate(gettext("Save %(name)s"), { name: CERTIFICATE }), certificate.bytes, CERTIFICATE);
    }
    for (const { file, bytes, state: fileState } of checked.listed) {
      if (!bytes || fileState !== "matches" || !file.name.startsWith(FILES_PREFIX)) continue;
      const filename = file.name.split("/").pop();
      saveLink(interpolate(gettext("Save %(name)s"), { name: filename }), bytes, filename);
    }
    result.hidden = false;
    status.textContent = gettext("The response is open. It is shown below and kept only in this page.");
    result.querySelector("#result-heading").focus();
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await open();
    } catch (error) {
      if (error instanceof Refusal) {
        fail(error.message);
      } else {
        fail(gettext("The response could not be opened in this browser. Download it and open it with the age command instead."));
        console.warn("opening the response failed", error && error.name);
      }
    } finally {
      button.disabled = false;
    }
  });
}

const root = document.getElementById("decrypt");
if (root) setup(root);
