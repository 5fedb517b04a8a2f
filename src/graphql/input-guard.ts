/**
 * One guard for every argument of every field, over HTTP and WebSocket alike: it sees the values
 * after GraphQL has coerced them (so a literal `"x\u{0}y"` and a variable are the same string) and
 * refuses, as BAD_USER_INPUT naming the field, what no service should ever receive:
 * - text PostgreSQL cannot store (NUL) or that is not valid Unicode (a lone surrogate, which would
 *   be stored silently as U+FFFD), and text longer than its limit;
 * - lists longer than their limit;
 * - JSON nested deeper than JSON_DEPTH_MAX or larger than its size limit (deep JSON would overflow
 *   the stack of the idempotency hash and of JSON.stringify).
 * Services keep their own, tighter rules (idempotency keys ≤ 200, names, amounts); these are the
 * outer bounds. The checks are iterative or depth-bounded, so no input can overflow the stack here.
 */
import {
  isInputObjectType, isListType, isNonNullType, isObjectType, isScalarType,
  type GraphQLArgument, type GraphQLField, type GraphQLInputType, type GraphQLSchema,
} from 'graphql';
import { badInput } from '../shared/errors';

export const INPUT_LIMITS = {
  /** Characters of any String or ID argument or input field. */
  textLengthMax: 500,
  /** Items of any list argument or input field, unless LIST_LENGTH_MAX_BY_FIELD says otherwise. */
  listLengthMax: 100,
  /** Nesting of any JSON value (objects and arrays). */
  jsonDepthMax: 32,
  /** Approximate serialized size of any JSON value, unless JSON_SIZE_MAX_BY_FIELD says otherwise. */
  jsonSizeMaxChars: 16 * 1024,
} as const;

/** Input fields whose natural size is larger (by input field name). */
const LIST_LENGTH_MAX_BY_FIELD: Readonly<Record<string, number>> = { requiredPairs: 1_000, lines: 1_000, charges: 1_000 };
/** Rate cards: the whole list of rates, or one rate (still bounded by the request body limit). */
const JSON_SIZE_MAX_BY_FIELD: Readonly<Record<string, number>> = { rates: 200 * 1024, rate: 32 * 1024 };

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `text` cannot be accepted, or null. */
function textProblem(text: string, lengthMax: number): string | null {
  if (text.includes('\u0000')) return 'must not contain NUL (\\u0000) characters';
  if (LONE_SURROGATE.test(text)) return 'must be valid Unicode (it contains a lone surrogate such as \\ud800)';
  if (text.length > lengthMax) return `must be at most ${lengthMax} characters`;
  return null;
}

/** Checks a JSON value: depth, size, and every key and string in it. Throws BAD_USER_INPUT naming `field`. */
export function checkJson(value: unknown, field: string, sizeMaxChars = INPUT_LIMITS.jsonSizeMaxChars): void {
  let size = 0;
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop()!;
    size += 4;
    if (typeof current === 'string') {
      size += current.length;
      const problem = textProblem(current, sizeMaxChars);
      if (problem) throw badInput(`${field}: JSON text ${problem}`, field);
    } else if (current !== null && typeof current === 'object') {
      if (depth >= INPUT_LIMITS.jsonDepthMax) throw badInput(`${field}: JSON must be nested at most ${INPUT_LIMITS.jsonDepthMax} levels deep`, field);
      if (Array.isArray(current)) {
        for (const item of current) stack.push({ value: item, depth: depth + 1 });
      } else {
        for (const [key, item] of Object.entries(current)) {
          size += key.length;
          const problem = textProblem(key, sizeMaxChars);
          if (problem) throw badInput(`${field}: a JSON key ${problem}`, field);
          stack.push({ value: item, depth: depth + 1 });
        }
      }
    }
    if (size > sizeMaxChars) throw badInput(`${field}: JSON must be at most ${sizeMaxChars} characters`, field);
  }
}

/** Checks one coerced argument value against its declared input type. `field` is its path ("input.comment"). */
export function checkInputValue(value: unknown, type: GraphQLInputType, field: string, name = field): void {
  if (value === null || value === undefined) return;
  const inner = isNonNullType(type) ? type.ofType : type;
  if (isListType(inner)) {
    const items = value as unknown[];
    const lengthMax = LIST_LENGTH_MAX_BY_FIELD[name] ?? INPUT_LIMITS.listLengthMax;
    if (!Array.isArray(items)) return checkInputValue(value, inner.ofType, field, name); // a single value coerced as a list of one
    if (items.length > lengthMax) throw badInput(`${field} must have at most ${lengthMax} items`, field);
    items.forEach((item, i) => checkInputValue(item, inner.ofType, `${field}[${i}]`, name));
    return;
  }
  if (isInputObjectType(inner)) {
    const fields = inner.getFields();
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      if (fields[key]) checkInputValue(item, fields[key].type, `${field}.${key}`, key);
    }
    return;
  }
  if (isScalarType(inner)) {
    if (inner.name === 'JSON' || inner.name === 'JSONObject') return checkJson(value, field, JSON_SIZE_MAX_BY_FIELD[name]);
    if (typeof value === 'string') {
      const problem = textProblem(value, INPUT_LIMITS.textLengthMax);
      if (problem) throw badInput(`${field} ${problem}`, field);
    }
  }
}

function checkArguments(args: readonly GraphQLArgument[], values: Record<string, unknown>): void {
  for (const arg of args) checkInputValue(values[arg.name], arg.type, arg.name);
}

/**
 * Wraps `resolve` and `subscribe` of every field that takes arguments so the guard runs before
 * them. Called once on the built schema.
 */
export function guardArguments(schema: GraphQLSchema): void {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields()) as GraphQLField<unknown, unknown>[]) {
      if (field.args.length === 0) continue;
      const { resolve, subscribe } = field;
      // A subscription's arguments are checked once, when it starts, not again for every event.
      if (subscribe) field.subscribe = (source, args: Record<string, unknown>, context, info) => { checkArguments(field.args, args); return subscribe(source, args, context, info); };
      else if (resolve) field.resolve = (source, args: Record<string, unknown>, context, info) => { checkArguments(field.args, args); return resolve(source, args, context, info); };
    }
  }
}
