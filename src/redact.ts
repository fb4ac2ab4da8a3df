/**
 * Connection strings with the password masked, for logs and error messages.
 * Works on any text containing them: URLs (`postgresql://user:secret@host/db`,
 * `?password=secret`) and libpq key/value strings (`host=x password=secret`).
 */
export function redactConnectionString(text: string): string {
  return text
    // Up to the LAST "@" before the path: a password may itself hold "@" or spaces.
    .replace(/(:\/\/[^:/?#@\s]*:)[^/?#\n]*@/g, "$1***@")
    .replace(/([?&]password=)[^&#\s]*/gi, "$1***")
    .replace(/(?<![?&\w])(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, "$1***");
}
