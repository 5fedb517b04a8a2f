import { GraphQLScalarType, Kind } from 'graphql';
import { CreditsFormatError, formatCredits, parseCredits } from '../shared/credits';
import { badInput } from '../shared/errors';

/**
 * Credits: a decimal string with at most 3 fractional digits ("12.5", "-3", "0.125").
 * Inputs accept a string or a number; anything else (NaN, exponents, 4+ decimals, > 10^12) is
 * BAD_USER_INPUT. Internally the value is integer millicredits.
 */
export const CreditsScalar = new GraphQLScalarType<number, string>({
  name: 'Credits',
  description: 'A decimal amount of credits with at most 3 fractional digits, as a string: "12.5", "-3", "0.125".',
  serialize(value) {
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new Error('Credits must be serialized from integer millicredits');
    return formatCredits(value);
  },
  parseValue(value) {
    return parse(value);
  },
  parseLiteral(ast) {
    if (ast.kind === Kind.STRING || ast.kind === Kind.INT || ast.kind === Kind.FLOAT) return parse(ast.value);
    throw badInput('Credits must be a decimal string or number').toGraphQL();
  },
});

function parse(value: unknown): number {
  try {
    return parseCredits(value);
  } catch (error) {
    if (error instanceof CreditsFormatError) throw badInput(`invalid Credits: ${error.message}`).toGraphQL();
    throw error;
  }
}
