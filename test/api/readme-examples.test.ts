/**
 * The README's GraphQL examples run. Every ```graphql block of README.md (with the ```json block
 * right after it as its variables, if there is one) and the JSON body of every `curl … -d '…'`
 * runs in README order against a test server with the demo loaded (as `npm start` does), with the
 * admin key. A block is expected to fail only if its first line says so (`# refused with CODE`), and
 * then must fail with exactly that code.
 *
 * Placeholders: a string "$NAME" (in the variables, or as a string literal in the query) stands for
 * a value the reader has from an earlier step: $ACCOUNT_ID is the demo account's id, CAPTURES below
 * says which answer gives each other one. An unknown placeholder fails the test, so a new one is
 * added here together with the README change.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'graphql';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';
import { loadDemo } from '../../src/cli/demo';

const README = path.resolve(__dirname, '../../README.md');

interface Example {
  /** 1-based line of the block in README.md. */
  line: number;
  query: string;
  variables: Record<string, unknown>;
  /** `# refused with CODE`: the error code the example shows. */
  refusedWith: string | null;
}

/** The examples of a Markdown text, in order. */
function extractExamples(markdown: string): Example[] {
  const fence = /^```([\w-]*)[^\n]*\n([\s\S]*?)^```[ \t]*$/gm;
  const blocks: { lang: string; body: string; line: number; start: number; end: number }[] = [];
  for (let match = fence.exec(markdown); match; match = fence.exec(markdown)) {
    blocks.push({ lang: match[1], body: match[2], line: markdown.slice(0, match.index).split('\n').length, start: match.index, end: match.index + match[0].length });
  }
  const examples: Example[] = [];
  blocks.forEach((block, i) => {
    if (block.lang === 'graphql') {
      const next = blocks[i + 1];
      const variablesFollow = next?.lang === 'json' && markdown.slice(block.end, next.start).trim() === '';
      const variables = variablesFollow ? JSON.parse(next.body) as Record<string, unknown> : {};
      const refused = /^\s*#\s*refused with ([A-Z_]+)/.exec(block.body); // the first line only
      examples.push({ line: block.line, query: block.body, variables, refusedWith: refused?.[1] ?? null });
    } else if (block.lang === 'bash' || block.lang === 'sh' || block.lang === 'shell') {
      const commands = block.body.replace(/\\\n/g, ' ');
      for (const curl of commands.matchAll(/\bcurl\b[^\n]*?\s(?:-d|--data(?:-raw)?)\s+'([^']*)'/g)) {
        const body = JSON.parse(curl[1]) as { query: string; variables?: Record<string, unknown> };
        if (typeof body.query !== 'string') continue;
        examples.push({ line: block.line, query: body.query, variables: body.variables ?? {}, refusedWith: null });
      }
    }
  });
  return examples;
}

let t: TestApp;
const placeholders = new Map<string, string>();

/** Where each placeholder's value comes from: set before the examples, or taken from an example's data. */
/** The parts of an example's answer that CAPTURES reads (if the example asked for them). */
interface Captured {
  createRateCardDraft?: { id?: string } | null;
  quote?: { id?: string } | null;
}
const CAPTURES: Record<string, (data: Captured | null | undefined) => string | undefined> = {
  DRAFT_ID: (data) => data?.createRateCardDraft?.id,
  QUOTE_ID: (data) => data?.quote?.id,
};

function substitute(value: unknown, line: number): unknown {
  if (typeof value === 'string') {
    const name = /^\$([A-Z][A-Z0-9_]*)$/.exec(value)?.[1];
    if (!name) return value;
    const replacement = placeholders.get(name);
    if (replacement === undefined) throw new Error(`README line ${line}: placeholder $${name} has no value (known: ${[...placeholders.keys()].join(', ')}; add it to test/api/readme-examples.test.ts)`);
    return replacement;
  }
  if (Array.isArray(value)) return value.map((item) => substitute(item, line));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, line)]));
  return value;
}

const examples = extractExamples(fs.readFileSync(README, 'utf8'));

beforeAll(async () => {
  t = await startTestApp();
  // A Berlin weekday at 10:00 (peak time of the README's card), as the README's quote says.
  t.clock.set(new Date('2025-11-05T09:00:00Z'));
  const demo = await loadDemo(t.app.services);
  placeholders.set('ACCOUNT_ID', demo.accountId);
  // On a shared PostgreSQL database another file may have created the demo account first, at today's
  // date: its credits are not yet effective at this file's 2025 clock. Credits granted now are.
  await t.grant(demo.accountId, '5000', { source: 'PROMO', idempotencyKey: uniqueKey('readme-demo') });
});

afterAll(async () => {
  await t?.close();
});

test('README.md has GraphQL examples, including the rate card, the quote and the curl one', () => {
  expect(examples.length).toBeGreaterThanOrEqual(5);
  const all = examples.map((e) => e.query).join('\n');
  for (const field of ['setRateCardRates', 'publishRateCard', 'quote(', 'account(externalId']) expect(all).toContain(field);
});

describe.each(examples.map((example) => [`README line ${example.line}: ${example.query.trim().split('\n').find((l) => !l.startsWith('#'))!.slice(0, 70)}`, example] as const))(
  '%s',
  (_name, example) => {
    test(example.refusedWith ? `is refused with ${example.refusedWith}` : 'parses and runs without errors', async () => {
      expect(() => parse(example.query)).not.toThrow();
      const query = example.query.replace(/"\$([A-Z][A-Z0-9_]*)"/g, (literal) => JSON.stringify(substitute(literal.slice(1, -1), example.line)));
      const variables = substitute(example.variables, example.line) as Record<string, unknown>;
      const result = await t.gql<Captured>(query, variables);
      if (example.refusedWith) {
        expect(result.errors?.map((e) => e.extensions?.code)).toEqual([example.refusedWith]);
        return;
      }
      expect(result.errors).toBeUndefined();
      for (const [name, capture] of Object.entries(CAPTURES)) {
        const value = capture(result.data);
        if (value !== undefined) placeholders.set(name, value);
      }
    });
  },
);

test('the quote the README shows is what the server answers', async () => {
  const quote = examples.find((e) => /\bquote\(/.test(e.query));
  expect(quote).toBeDefined();
  const result = await t.ok<{ quote: { credits: string; lineItems: { label: string; credits: string }[] } }>(quote!.query, substitute(quote!.variables, quote!.line) as Record<string, unknown>);
  expect(result.quote.credits).toBe('15');
  expect(result.quote.lineItems.map((item) => [item.label, item.credits])).toEqual([
    ['2 images at 2 (1080p)', '4'], ['quality hd ×2.5', '6'], ['peak ×1.5', '5'],
  ]);
});

test('the extraction reads graphql blocks, their variables, refusal marks and curl bodies', () => {
  const markdown = [
    'text', '```graphql', 'query Q($id: ID!) { wallet(accountId: $id) { balance } }', '```', '', '```json', '{ "id": "$ACCOUNT_ID" }', '```',
    '```graphql', '# refused with INSUFFICIENT_CREDITS', 'mutation { x }', '```', 'between', '```json', '{ "not": "variables" }', '```',
    '```bash', `curl -s localhost:4000/graphql \\`, `  -d '{"query":"{ a }","variables":{"v":1}}'`, '```',
  ].join('\n');
  expect(extractExamples(markdown)).toEqual([
    { line: 2, query: 'query Q($id: ID!) { wallet(accountId: $id) { balance } }\n', variables: { id: '$ACCOUNT_ID' }, refusedWith: null },
    { line: 9, query: '# refused with INSUFFICIENT_CREDITS\nmutation { x }\n', variables: {}, refusedWith: 'INSUFFICIENT_CREDITS' },
    { line: 17, query: '{ a }', variables: { v: 1 }, refusedWith: null },
  ]);
});
