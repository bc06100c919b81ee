// The browser's texts in the page's language.
//
// Django's JavaScript catalog (the "javascript-catalog" view, /jsi18n/, domain djangojs) is
// loaded by templates/base.html before any bundle, from the portal's own origin. It defines
// gettext, ngettext, pgettext and interpolate on the page's global object. The functions
// below use them, and fall back to the English text when the catalog did not load, so a
// page never breaks for want of a translation.
//
// Every text is one whole sentence with named placeholders, filled by interpolate():
//   interpolate(gettext("%(name)s is empty."), { name: file.name })
// `makemessages -d djangojs` finds the gettext("...") calls in frontend/.

const catalog = globalThis;

export function gettext(msgid) {
  return typeof catalog.gettext === "function" ? catalog.gettext(msgid) : msgid;
}

export function ngettext(singular, plural, count) {
  if (typeof catalog.ngettext === "function") return catalog.ngettext(singular, plural, count);
  return count === 1 ? singular : plural;
}

export function pgettext(context, msgid) {
  return typeof catalog.pgettext === "function" ? catalog.pgettext(context, msgid) : msgid;
}

/** Fill the named placeholders, %(name)s, of a translated text. */
export function interpolate(text, values) {
  return text.replace(/%\((\w+)\)s/g, (match, name) =>
    Object.hasOwn(values, name) ? String(values[name]) : match,
  );
}

/** The page's language, as <html lang> says (for numbers and dates). */
export function pageLanguage() {
  return document.documentElement.lang || "en";
}

/** A number in the page's language ("1,5" in Portuguese). */
export function formatNumber(value, options = {}) {
  try {
    return new Intl.NumberFormat(pageLanguage(), options).format(value);
  } catch {
    return String(value);
  }
}

/** The viewer's time zone, as the page says it (<html data-time-zone>), else UTC. */
export function pageTimeZone() {
  const zone = document.documentElement.dataset.timeZone || "UTC";
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return zone;
  } catch {
    return "UTC";
  }
}

/** An instant as the portal's pages show it: date and time in the viewer's zone, with the
 * zone's abbreviation, in the page's language. */
export function formatMoment(value) {
  const moment = value instanceof Date ? value : new Date(value);
  const options = {
    dateStyle: "medium",
    timeStyle: "short",
    timeZone: pageTimeZone(),
  };
  try {
    const parts = new Intl.DateTimeFormat(pageLanguage(), { ...options }).format(moment);
    const zone = new Intl.DateTimeFormat(pageLanguage(), {
      timeZone: options.timeZone,
      timeZoneName: "short",
    })
      .formatToParts(moment)
      .find((part) => part.type === "timeZoneName");
    return zone ? `${parts} ${zone.value}` : parts;
  } catch {
    return moment.toISOString();
  }
}

/** Append a translated sentence to ``parent``, its placeholders filled with nodes or text:
 * the sentence stays whole for the translator, the nodes stay nodes (never markup). */
export function appendSentence(parent, text, values) {
  const pattern = /%\((\w+)\)s/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > last) parent.append(text.slice(last, match.index));
    const value = Object.hasOwn(values, match[1]) ? values[match[1]] : match[0];
    parent.append(value instanceof Node ? value : String(value));
    last = match.index + match[0].length;
  }
  if (last < text.length) parent.append(text.slice(last));
  return parent;
}
