import { Field, ObjectType } from 'type-graphql';
import type { ComplexityEstimator } from 'graphql-query-complexity';
import { badInput } from '../shared/errors';

@ObjectType()
export class PageInfo {
  @Field()
  hasNextPage: boolean;

  @Field(() => String, { nullable: true })
  endCursor: string | null;
}

/** Cursors are opaque to clients: base64url of a versioned position. */
export function encodeCursor(position: number): string {
  return Buffer.from(`v1:${position}`).toString('base64url');
}

export function decodeCursor(cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^v1:(\d{1,15})$/.exec(text);
  if (!m) throw badInput('after is not a valid cursor', 'after');
  return Number(m[1]);
}

export const PAGE_SIZE_DEFAULT = 20;

/**
 * A connection page from `rows` read with limit + 1 (the extra row only tells that there is a next
 * page): edges with their cursors, and pageInfo.
 */
export function pageOf<Row, Node>(rows: Row[], limit: number, cursorOf: (row: Row) => string): { edges: { cursor: string; node: Node }[]; pageInfo: PageInfo } {
  const edges = rows.slice(0, limit).map((row) => ({ cursor: cursorOf(row), node: row as unknown as Node }));
  return { edges, pageInfo: { hasNextPage: rows.length > limit, endCursor: edges.length ? edges[edges.length - 1].cursor : null } };
}

export function pageSize(first: number | null | undefined, max: number): number {
  const size = first ?? PAGE_SIZE_DEFAULT;
  if (!Number.isInteger(size) || size < 1 || size > max) throw badInput(`first must be between 1 and ${max}`, 'first');
  return size;
}

/**
 * Query cost of a connection field: its selection counts once per item asked for (`first`; more
 * than the page size maximum is refused by pageSize before anything loads, so it counts as the maximum).
 */
export const connectionComplexity: ComplexityEstimator = ({ args, childComplexity, context }) => {
  const first = Number.isInteger(args.first) ? (args.first as number) : PAGE_SIZE_DEFAULT;
  const max = (context as { pageSizeMax?: number } | undefined)?.pageSizeMax ?? Infinity;
  return 1 + Math.min(Math.max(1, first), max) * childComplexity;
};
