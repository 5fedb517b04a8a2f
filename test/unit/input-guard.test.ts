/** The argument guard's checks, table-driven (the API behaviour is in test/api/input-limits.test.ts). */
import { GraphQLID, GraphQLInputObjectType, GraphQLList, GraphQLNonNull, GraphQLString } from 'graphql';
import { GraphQLJSON } from 'graphql-scalars';
import { AppError } from '../../src/shared/errors';
import { INPUT_LIMITS, checkInputValue, checkJson } from '../../src/graphql/input-guard';

const deep = (depth: number): unknown => { let v: unknown = 1; for (let i = 0; i < depth; i += 1) v = i % 2 ? { a: v } : [v]; return v; };
const Input = new GraphQLInputObjectType({
  name: 'Input',
  fields: { comment: { type: GraphQLString }, tags: { type: new GraphQLList(new GraphQLNonNull(GraphQLString)) }, requiredPairs: { type: new GraphQLList(GraphQLID) }, usage: { type: GraphQLJSON } },
});

function refusal(run: () => void): { field: unknown; message: string } | null {
  try { run(); return null; } catch (error) {
    if (!(error instanceof AppError)) throw error;
    expect(error.code).toBe('BAD_USER_INPUT');
    return { field: error.details.field, message: error.message };
  }
}

test.each([
  ['plain text', { comment: 'hello 😀' }, null],
  ['NUL', { comment: 'a\u0000b' }, 'input.comment'],
  ['lone high surrogate', { comment: 'a\ud800' }, 'input.comment'],
  ['lone low surrogate', { comment: '\udc00a' }, 'input.comment'],
  ['text at the limit', { comment: 'x'.repeat(INPUT_LIMITS.textLengthMax) }, null],
  ['text over the limit', { comment: 'x'.repeat(INPUT_LIMITS.textLengthMax + 1) }, 'input.comment'],
  ['list at the limit', { tags: Array(INPUT_LIMITS.listLengthMax).fill('t') }, null],
  ['list over the limit', { tags: Array(INPUT_LIMITS.listLengthMax + 1).fill('t') }, 'input.tags'],
  ['bad item in a list', { tags: ['ok', 'b\u0000'] }, 'input.tags[1]'],
  ['requiredPairs allows 1,000', { requiredPairs: Array(1_000).fill('p') }, null],
  ['requiredPairs over 1,000', { requiredPairs: Array(1_001).fill('p') }, 'input.requiredPairs'],
  ['JSON at depth 32', { usage: deep(32) }, null],
  ['JSON at depth 33', { usage: deep(33) }, 'input.usage'],
  ['JSON 100,000 deep', { usage: deep(100_000) }, 'input.usage'],
  ['NUL deep in JSON', { usage: { a: { b: [{ c: 'x\u0000' }] } } }, 'input.usage'],
  ['NUL in a JSON key', { usage: { ['k\u0000']: 1 } }, 'input.usage'],
  ['JSON over 16 KiB', { usage: { s: 'x'.repeat(INPUT_LIMITS.jsonSizeMaxChars) } }, 'input.usage'],
  ['JSON of many small values over 16 KiB', { usage: Array(5_000).fill(1) }, 'input.usage'],
])('%s', (_name, value, field) => {
  const result = refusal(() => checkInputValue(value, Input, 'input'));
  expect(result?.field ?? null).toBe(field);
});

test('a JSON size limit may be raised per call', () => {
  expect(refusal(() => checkJson({ s: 'x'.repeat(20_000) }, 'rates', 200 * 1024))).toBeNull();
  expect(refusal(() => checkJson({ s: 'x'.repeat(20_000) }, 'rates'))?.field).toBe('rates');
});
