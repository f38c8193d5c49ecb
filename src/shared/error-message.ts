/** The message of anything thrown (pure: workflows use it too). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
