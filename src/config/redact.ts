/**
 * Connection strings with the password masked, for logs and error messages.
 * Works on any text containing them: URLs (`postgresql://user:secret@host/db`,
 * `?password=secret`) and libpq key/value strings (`host=x password=secret`).
 */
export function redactConnectionString(text: string): string {
  return text
    // Up to the last "@" that a host follows, before the line or the next URL ends: a password may
    // hold "@", "#" or spaces, a host never holds "@" (masking a little too much is the safe side).
    .replace(/(:\/\/[^:/?#@\s]*:)(?:(?!:\/\/)[^\n])*@(?=[^@\s]*(?:[\s/?#]|$))/g, "$1***@")
    .replace(/([?&]password=)[^&#\s]*/gi, "$1***")
    .replace(/(?<![?&\w])(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, "$1***");
}
