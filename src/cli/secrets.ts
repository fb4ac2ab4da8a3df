import { redactConnectionString } from "../config/redact.js";

/**
 * Passwords kept out of what the tool prints. `redactConnectionString`
 * masks what looks like a password in a URL, but a password a URL parser
 * still accepts can defeat a pattern: `postgres://app:p@ss@db/x` connects
 * (the last "@" ends the user info) yet the pattern stops at the first "@"
 * and prints "ss@db"; a space in the password stops it altogether. The tool
 * knows every connection string it was given, so it also masks each of
 * their passwords wherever they appear in a message it prints.
 */

/** Shorter "passwords" would mask ordinary words of a message; they protect nothing anyway. */
const MIN_MASKED_LENGTH = 4;

/** The passwords in `texts` (command-line arguments, connection strings): as written and percent-decoded. */
export function passwordsIn(texts: ReadonlyArray<string | undefined>): string[] {
  const found = new Set<string>();
  for (const text of texts) {
    if (text === undefined) continue;
    for (const match of text.matchAll(URL_USER_INFO)) {
      // The authority ends at the first "/", "?" or "#"; the user info at its last "@".
      const userInfo = match[1]!.slice(0, match[1]!.lastIndexOf("@"));
      const colon = userInfo.indexOf(":");
      if (colon >= 0) add(found, userInfo.slice(colon + 1));
    }
    for (const match of text.matchAll(PASSWORD_PARAMETER)) add(found, match[1]!.replace(/^'(.*)'$/s, "$1"));
  }
  return [...found].sort((a, b) => b.length - a.length);
}

/** `text` with connection strings redacted and every one of `passwords` masked. */
export function maskSecrets(text: string, passwords: readonly string[]): string {
  // The known passwords first: the pattern could otherwise mask part of one and leave the rest.
  let masked = text;
  for (const password of passwords) masked = masked.split(password).join("***");
  return redactConnectionString(masked);
}

function add(found: Set<string>, password: string): void {
  for (const form of [password, decoded(password)]) if (form.length >= MIN_MASKED_LENGTH) found.add(form);
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** `scheme://` then the authority (user info included): everything up to the first "/", "?" or "#". */
const URL_USER_INFO = /[a-z][a-z0-9+.-]*:\/\/([^/?#]*@)/gi;
/** `password=...` in a URL's query or a key/value connection string. */
const PASSWORD_PARAMETER = /(?:^|[?&\s])password\s*=\s*('(?:[^'\\]|\\.)*'|[^&#\s]+)/gi;
