/** Finds configured secrets in anything a test collected: logs, histories (payloads decoded), rows. */

/** Every string inside `value`, with binary payload data decoded as UTF-8. */
export function textsOf(value: unknown, out: string[] = [], seen = new Set<object>()): string[] {
  if (typeof value === 'string') out.push(value);
  else if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'));
  else if (value !== null && typeof value === 'object' && !seen.has(value)) {
    seen.add(value);
    for (const child of Array.isArray(value) ? value : Object.values(value)) textsOf(child, out, seen);
  }
  return out;
}

/** Names of the secrets found in `where`, each as `name in label`. */
export function leaks(secrets: Record<string, string>, where: Record<string, unknown>): string[] {
  const found: string[] = [];
  for (const [label, value] of Object.entries(where)) {
    const text = textsOf(value).join('\n');
    for (const [name, secret] of Object.entries(secrets))
      if (text.includes(secret)) found.push(`${name} in ${label}`);
  }
  return found;
}
