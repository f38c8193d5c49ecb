/**
 * The one redaction of secrets: every log line, error message and printed config goes through
 * here, so a secret is hidden the same way (`[redacted]`) wherever it would have shown.
 *
 * Secrets are hidden by value (the keys, tokens and passwords the process was configured with,
 * registered at start-up), by place (the credentials inside any connection URL), and by field
 * (settings whose whole value is a secret).
 */

/** What a hidden secret reads as. */
export const REDACTED = '[redacted]';

/** Settings whose whole value is a secret: printed as REDACTED whatever they hold. */
export const SECRET_SETTINGS: ReadonlySet<string> = new Set(['SUPABASE_SERVICE_ROLE_KEY', 'ADMIN_TOKEN']);

/** Shorter values are not hidden: they would blank out ordinary words. */
const MIN_SECRET_LENGTH = 6;

const secrets = new Set<string>();

/** Registers values that must never be printed (keys, passwords, URLs with credentials). */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= MIN_SECRET_LENGTH) secrets.add(value);
}

/**
 * The credentials of a connection URL (`scheme://user:password@`), wherever one appears. The
 * password runs to the last `@` before the host: a raw `@` inside it must not leave its tail shown.
 */
const URL_CREDENTIALS = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/\s@]*:)[^\s/]+@/gi;

/** `text` with the password of every connection URL in it hidden (and nothing else touched). */
export function redactUrlCredentials(text: string): string {
  return text.replace(URL_CREDENTIALS, `$1${REDACTED}@`);
}

/**
 * `text` with every registered secret, every secret given here and the password of every
 * connection URL in it hidden.
 */
export function redact(text: string, ...alsoHide: Array<string | undefined>): string {
  let out = text;
  for (const secret of [...secrets, ...alsoHide]) {
    if (secret) out = out.split(secret).join(REDACTED);
  }
  return redactUrlCredentials(out);
}

/** The password of a connection URL (decoded, as a server would echo it), if it has one. */
export function passwordOf(connectionUrl: string | undefined): string | undefined {
  if (!connectionUrl) return undefined;
  try {
    return decodeURIComponent(new URL(connectionUrl).password) || undefined;
  } catch {
    return undefined;
  }
}

/** A copy of `settings` safe to print: secret settings hidden whole, secrets inside the others. */
export function redactSettings(settings: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(settings).map(([key, value]) => {
      if (SECRET_SETTINGS.has(key) && value) return [key, REDACTED];
      return [key, typeof value === 'string' ? redact(value) : value];
    }),
  );
}
