/**
 * Prepared statements on PostgreSQL (postgres.js), for statements whose text is fixed.
 *
 * postgres.js runs a parameterized statement that is not prepared in two round trips: Parse +
 * Describe, wait for the parameter types, then Bind + Execute. A prepared one (named, kept per
 * connection) costs one round trip from its second use on a connection, and PostgreSQL skips
 * parsing and planning it again. drizzle asks postgres.js to prepare only queries built with
 * `.prepare(name)`, so by default every statement of the app paid the two round trips: a charge
 * batch runs about ten statements in its transaction, each holding the wallets' row locks longer.
 *
 * This makes drizzle's postgres-js session prepare every statement, except that postgres.js keeps
 * each prepared statement until the connection closes, with no bound: a text that varies with its
 * data (an `in ($1, $2, …)` list, a multi-row `values (…), (…)`) would leak one statement per
 * variant. Those run unprepared as before (hot paths pass lists as one array or JSON parameter, one
 * text); and at most PREPARED_TEXTS_MAX distinct texts are ever prepared per process (later ones run
 * unprepared), which bounds every connection's cache whatever the code does.
 */
import { logger } from '../shared/logger';

/** Distinct statement texts prepared per process (the app has a few hundred fixed ones). */
export const PREPARED_TEXTS_MAX = 1_000;

/** Texts whose shape depends on the number of values: a list of two or more parameters, or several rows. */
const VARIABLE_TEXT = /\bin \(\$\d+, |\), \(/i;

const admitted = new Set<string>();
let warned = false;

/** Whether a statement's text is one to prepare (fixed, and within the bound). */
export function preparable(text: string): boolean {
  if (admitted.has(text)) return true;
  if (VARIABLE_TEXT.test(text)) return false;
  if (admitted.size >= PREPARED_TEXTS_MAX) {
    if (!warned) {
      warned = true;
      logger.warn('prepared statement texts reached their bound; new texts run unprepared', { max: PREPARED_TEXTS_MAX });
    }
    return false;
  }
  admitted.add(text);
  return true;
}

/** How many distinct texts are prepared (tests, diagnostics). */
export function preparedTextCount(): number {
  return admitted.size;
}

interface SessionPrototype {
  prepareQuery: (this: unknown, query: { sql: string }, fields: unknown, name: string | undefined, ...rest: unknown[]) => unknown;
}

let patched = false;

/**
 * Patches drizzle's postgres-js session (once per module registry): a query built without a name is
 * prepared when its text is preparable. drizzle passes `prepare: name !== undefined` to postgres.js,
 * so the name only has to be defined; it is not used otherwise.
 */
export function preparePostgresStatements(session: { prototype: object }): void {
  if (patched) return;
  patched = true;
  const prototype = session.prototype as SessionPrototype;
  const original = prototype.prepareQuery;
  prototype.prepareQuery = function prepareQuery(this: unknown, query, fields, name, ...rest) {
    return original.call(this, query, fields, name ?? (preparable(query.sql) ? '' : undefined), ...rest);
  };
}
