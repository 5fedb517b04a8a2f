/** Assertions catch bugs (never expected refusals): they fail loudly and are reported without details. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
