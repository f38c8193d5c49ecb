/** The message of anything thrown (pure: workflows use it too). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The first line of an error's message: what a person is shown (stack-like detail left out). */
export function errorFirstLine(err: unknown): string {
  return err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
}
