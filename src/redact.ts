/**
 * Connection strings with the password masked, for logs and error messages.
 * Handles URLs (`postgresql://user:secret@host/db`, `?password=secret`) and
 * libpq key/value strings (`host=x password=secret`).
 */
export function redactConnectionString(text: string): string {
  return text
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^@\s]*@/gi, "$1***@")
    .replace(/([?&]password=)[^&\s]*/gi, "$1***")
    .replace(/(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, "$1***");
}
