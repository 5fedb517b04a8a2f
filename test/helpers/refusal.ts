/** Unit tests of rules: the BAD_USER_INPUT refusal a function throws (fails the test when it throws none or another). */
import { AppError } from '../../src/shared/errors';

export function badInputOf(fn: () => unknown): { field: unknown; message: string } {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    const refusal = error as AppError;
    expect(refusal.code).toBe('BAD_USER_INPUT');
    return { field: refusal.details.field, message: refusal.message };
  }
  throw new Error('expected a BAD_USER_INPUT refusal, got none');
}
