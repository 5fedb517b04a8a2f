/**
 * Limits on what one GraphQL document may ask for, checked before anything runs, the same over
 * HTTP (Apollo validation rules + `queryCostPlugin`) and graphql-ws (`CheckedDocuments`):
 * - depth of ordinary fields and aliases per document;
 * - introspection (`__schema`, `__type`) does not count against those; it has its own bounds:
 *   depth and fields in all (and graphql's MaxIntrospectionDepthRule on nested lists of types);
 * - cost (graphql-query-complexity): every field costs 1 plus its selection, a connection's
 *   selection counts `first` times (the fields' `complexity`), introspection costs nothing here.
 * Every measure is computed once per fragment, however often it is spread, so checking a document
 * takes time linear in its size: 22 fragments each spreading the next twice are measured in a
 * fraction of a millisecond instead of walking 2^21 paths (5 s). graphql-query-complexity itself
 * walks a fragment again at every spread, so it only runs once the linear count is within the limit.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import {
  BREAK, GraphQLError, GraphQLIncludeDirective, GraphQLSkipDirective, Kind, TypeInfo, getOperationAST, visit, visitWithTypeInfo,
  getDirectiveValues, getVariableValues, parse, validate, specifiedRules,
  type ASTNode, type ASTVisitor, type DocumentNode, type ExecutionArgs, type FieldNode, type FragmentDefinitionNode, type FragmentSpreadNode,
  type GraphQLSchema, type InlineFragmentNode, type SelectionSetNode, type ValidationContext, type ValidationRule,
} from 'graphql';
import type { Config } from '../config';
import { fieldExtensionsEstimator, getComplexity, simpleEstimator, type ComplexityEstimator } from 'graphql-query-complexity';

type LimitsConfig = Pick<Config, 'queryDepthMax' | 'queryAliasesMax' | 'introspectionDepthMax' | 'introspectionFieldsMax'>;
type CostConfig = Pick<Config, 'queryCostMax' | 'pageSizeMax'>;

/** Counts above this are all "too many"; keeps sums finite for documents that would expand beyond any number. */
const COUNT_CAP = 1e15;

/** What a selection set asks for, every fragment spread expanded. */
interface Shape {
  /** Deepest path of ordinary fields. */
  depth: number;
  /** Ordinary fields, each spread counted again: a lower bound of the cost. */
  fields: number;
  /** Deepest path inside introspection, `__schema`/`__type` counting 1. */
  introDepth: number;
  /** Introspection fields, each spread counted again. */
  introFields: number;
}

const EMPTY: Shape = { depth: 0, fields: 0, introDepth: 0, introFields: 0 };
const isIntrospectionRoot = (name: string) => name === '__schema' || name === '__type';
/** Only introspection fields return introspection types (__Schema, __Type, __Field, …). */
const isIntrospectionType = (name: string) => name.startsWith('__');

/**
 * Measures the operation's selections. Each fragment is measured once (memoized); a fragment met
 * again while it is being measured (a cycle, which NoFragmentCycles refuses anyway) counts as empty.
 * With `variables`, selections that @skip/@include leave out are not counted; without, all are.
 */
function measure(document: DocumentNode, selectionSet: SelectionSetNode, variables: Record<string, unknown> | null): Shape {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  const memo = new Map<string, Shape | 'measuring'>();

  const included = (node: FieldNode | FragmentSpreadNode | InlineFragmentNode): boolean => {
    if (!variables || !node.directives?.length) return true;
    try {
      if (getDirectiveValues(GraphQLSkipDirective, node, variables)?.if === true) return false;
      if (getDirectiveValues(GraphQLIncludeDirective, node, variables)?.if === false) return false;
    } catch {
      // an invalid directive argument is validation's to report; count the selection
    }
    return true;
  };

  const fragmentShape = (name: string): Shape => {
    const known = memo.get(name);
    if (known === 'measuring') return EMPTY;
    if (known) return known;
    const fragment = fragments.get(name);
    if (!fragment) return EMPTY;
    memo.set(name, 'measuring');
    const shape = setShape(fragment.selectionSet, isIntrospectionType(fragment.typeCondition.name.value));
    memo.set(name, shape);
    return shape;
  };

  // `intro`: the selections are inside __schema/__type.
  const setShape = (set: SelectionSetNode, intro: boolean): Shape => {
    let depth = 0, fields = 0, introDepth = 0, introFields = 0;
    const add = (s: Shape) => {
      depth = Math.max(depth, s.depth);
      introDepth = Math.max(introDepth, s.introDepth);
      fields = Math.min(COUNT_CAP, fields + s.fields);
      introFields = Math.min(COUNT_CAP, introFields + s.introFields);
    };
    for (const sel of set.selections) {
      if (!included(sel)) continue;
      if (sel.kind === Kind.FRAGMENT_SPREAD) add(fragmentShape(sel.name.value));
      else if (sel.kind === Kind.INLINE_FRAGMENT) add(setShape(sel.selectionSet, intro || isIntrospectionType(sel.typeCondition?.name.value ?? '')));
      else {
        const entersIntro = intro || isIntrospectionRoot(sel.name.value);
        const child = sel.selectionSet ? setShape(sel.selectionSet, entersIntro) : EMPTY;
        add(entersIntro
          ? { ...EMPTY, introDepth: 1 + child.introDepth, introFields: 1 + child.introFields }
          : { ...child, depth: 1 + child.depth, fields: 1 + child.fields });
      }
    }
    return { depth, fields, introDepth, introFields };
  };

  return setShape(selectionSet, false);
}

/** One measurement per operation per document, shared by the validation rules below. */
const shapes = new WeakMap<DocumentNode, Map<object, Shape>>();
function shapeOf(context: ValidationContext, operation: { selectionSet: SelectionSetNode }): Shape {
  const document = context.getDocument();
  let byOperation = shapes.get(document);
  if (!byOperation) shapes.set(document, (byOperation = new Map<object, Shape>()));
  let shape = byOperation.get(operation);
  if (!shape) byOperation.set(operation, (shape = measure(document, operation.selectionSet, null)));
  return shape;
}

const refusal = (message: string, nodes?: readonly ASTNode[]) =>
  new GraphQLError(message, { nodes, extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });

/** Nesting depth of ordinary fields (introspection has its own bound). */
export function depthLimit(depthMax: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(node) {
      const { depth } = shapeOf(context, node);
      if (depth > depthMax) context.reportError(refusal(`query depth ${depth} exceeds the limit of ${depthMax}`, [node]));
    },
  });
}

export function aliasLimit(aliasesMax: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    let aliases = 0;
    return {
      Field(node) {
        if (node.alias && ++aliases === aliasesMax + 1) context.reportError(refusal(`more than ${aliasesMax} aliases in one document`, [node]));
      },
    };
  };
}

/**
 * Introspection's own bounds: depth and fields in all. The standard introspection query
 * (graphql's getIntrospectionQuery) has depth 15 and about 230 fields. Lists of types nested in
 * lists of types (`types { fields { type { fields …`) are refused by graphql's own
 * MaxIntrospectionDepthRule, one of its specified rules.
 */
export function introspectionLimit(limits: Pick<Config, 'introspectionDepthMax' | 'introspectionFieldsMax'>): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(node) {
      const shape = shapeOf(context, node);
      if (shape.introDepth > limits.introspectionDepthMax) {
        context.reportError(refusal(`introspection depth ${shape.introDepth} exceeds the limit of ${limits.introspectionDepthMax}`, [node]));
      } else if (shape.introFields > limits.introspectionFieldsMax) {
        context.reportError(refusal(`introspection asks for ${shape.introFields} fields (fragments counted at each spread); the limit is ${limits.introspectionFieldsMax}`, [node]));
      }
    },
  });
}

/** The validation rules both transports add to graphql's own. */
export function limitRules(config: LimitsConfig): ValidationRule[] {
  return [depthLimit(config.queryDepthMax), aliasLimit(config.queryAliasesMax), introspectionLimit(config)];
}

/** Introspection is bounded by its own rule and costs nothing here. */
const introspectionEstimator: ComplexityEstimator = ({ field }) => (isIntrospectionRoot(field.name) ? 0 : undefined);
const ESTIMATORS = [introspectionEstimator, fieldExtensionsEstimator(), simpleEstimator({ defaultComplexity: 1 })];

/** graphql-query-complexity's own bound on the selections it visits; the field count checked first keeps far below it. */
const COMPLEXITY_NODES_MAX = 100_000;

const costRefusal = (cost: string, costMax: number) => refusal(
  `query cost ${cost} exceeds the limit of ${costMax}: every field costs 1, a connection's selection counts once per item asked for (first, default 20); ask for fewer items or fields`,
);

/**
 * The cost of the operation `operationName` with `variables`, refused above `costMax`. Null when
 * within the limit, or when the operation or its variables are invalid (execution then refuses them
 * before any resolver runs). The document must have passed the limit rules above.
 */
function queryCostError(
  schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown> | null | undefined, config: CostConfig,
): GraphQLError | null {
  const costMax = config.queryCostMax;
  const operation = getOperationAST(document, operationName);
  if (!operation) return null;
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {});
  if (coerced.errors) return null;
  // Every field costs at least 1, so this linear count is a lower bound of the cost. Checked first, it
  // keeps graphql-query-complexity (which walks a fragment again at every spread) from exponential work.
  const { fields } = measure(document, operation.selectionSet, coerced.coerced);
  if (fields > costMax) return costRefusal(`of at least ${fields >= COUNT_CAP ? `${COUNT_CAP}` : fields}`, costMax);
  let cost: number;
  try {
    cost = getComplexity({ schema, query: document, operationName: operation.name?.value, variables: variables ?? {}, estimators: ESTIMATORS, maxQueryNodes: COMPLEXITY_NODES_MAX,
      context: { pageSizeMax: config.pageSizeMax } });
  } catch (error) {
    if (error instanceof GraphQLError) return refusal(error.message);
    throw error;
  }
  return cost > costMax ? costRefusal(String(cost), costMax) : null;
}

/**
 * Whether any variable can change the document's cost: one used in a directive (@skip, @include) or in
 * an argument of a field whose cost is computed from its arguments (a connection's `first`).
 */
export function costReadsVariables(schema: GraphQLSchema, document: DocumentNode): boolean {
  const typeInfo = new TypeInfo(schema);
  let reads = false;
  const hasVariable = (node: ASTNode) => {
    let found = false;
    visit(node, { Variable: () => { found = true; return BREAK; } });
    return found;
  };
  visit(document, visitWithTypeInfo(typeInfo, {
    Directive(node) {
      if (hasVariable(node)) reads = true;
    },
    Argument(node) {
      if (typeInfo.getFieldDef()?.extensions?.complexity !== undefined && hasVariable(node.value)) reads = true;
    },
  }));
  return reads;
}

/**
 * `queryCostError` for one server, remembering the operations that passed and whose cost no variable
 * can change: those are not costed again (the check's graph walk and variable coercion were about 9%
 * of a trivial request's CPU and 5% of a 100-charge batch's). Refusals are always computed afresh, and
 * anything that could answer differently (invalid variables) answers null either way.
 */
export function costCheck(config: CostConfig): (schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown> | null | undefined) => GraphQLError | null {
  const passed = new WeakMap<DocumentNode, Set<string>>();
  const readsVariables = new WeakMap<DocumentNode, boolean>();
  return (schema, document, operationName, variables) => {
    const key = operationName ?? '';
    if (passed.get(document)?.has(key)) return null;
    const error = queryCostError(schema, document, operationName, variables, config);
    if (error) return error;
    let reads = readsVariables.get(document);
    if (reads === undefined) readsVariables.set(document, (reads = costReadsVariables(schema, document)));
    if (!reads) {
      let operations = passed.get(document);
      if (!operations) passed.set(document, (operations = new Set()));
      operations.add(key);
    }
    return null;
  };
}

/** HTTP: Apollo's validation rules do not see variables, so the cost is checked once the operation is resolved. */
export function queryCostPlugin(config: CostConfig): ApolloServerPlugin {
  const check = costCheck(config);
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operationName, request }) {
          const error = check(schema, document, operationName, request.variables);
          if (error) throw error;
        },
      };
    },
  };
}

/** Queries up to this long are kept parsed and validated for graphql-ws; longer ones are checked every time. */
const CACHED_QUERY_CHARS_MAX = 16 * 1024;
/** Documents kept (least recently used dropped first): dashboards send a handful of distinct subscriptions. */
const CACHED_DOCUMENTS_MAX = 200;

/**
 * graphql-ws: each document parsed and validated (graphql's rules and the limit rules) once, as Apollo's
 * document store does for HTTP; the variables' types and the cost (which depends on them) every time.
 */
export class CheckedDocuments {
  private readonly documents = new Map<string, DocumentNode | readonly GraphQLError[]>();
  private readonly costError: ReturnType<typeof costCheck>;

  constructor(private readonly schema: GraphQLSchema, private readonly rules: readonly ValidationRule[], config: CostConfig) {
    this.costError = costCheck(config);
  }

  /** Documents held (for tests). */
  size(): number {
    return this.documents.size;
  }

  /** The operation ready to execute, or the errors that refuse it (parse, validation, variables, cost). */
  check(payload: { query: string; operationName?: string | null; variables?: Record<string, unknown> | null }): ExecutionArgs | GraphQLError[] {
    const document = this.validated(payload.query);
    if (!('kind' in document)) return [...document];
    const operation = getOperationAST(document, payload.operationName);
    if (operation) {
      // Over HTTP Apollo answers a variable of the wrong type as BAD_USER_INPUT; graphql-ws would
      // otherwise pass graphql's bare error on, which formatError reports as an internal error.
      const coerced = getVariableValues(this.schema, operation.variableDefinitions ?? [], payload.variables ?? {});
      if (coerced.errors) return coerced.errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: 'BAD_USER_INPUT' } }));
    }
    const costError = this.costError(this.schema, document, payload.operationName, payload.variables);
    if (costError) return [costError];
    return { schema: this.schema, document, operationName: payload.operationName, variableValues: payload.variables };
  }

  private validated(query: string): DocumentNode | readonly GraphQLError[] {
    const known = this.documents.get(query);
    if (known) {
      this.documents.delete(query); // re-inserted last: the map stays in least-recently-used order
      this.documents.set(query, known);
      return known;
    }
    const checked = parsedAndValidated(this.schema, this.rules, query);
    if (query.length <= CACHED_QUERY_CHARS_MAX) {
      this.documents.set(query, checked);
      if (this.documents.size > CACHED_DOCUMENTS_MAX) this.documents.delete(this.documents.keys().next().value as string);
    }
    return checked;
  }
}

function parsedAndValidated(schema: GraphQLSchema, rules: readonly ValidationRule[], query: string): DocumentNode | readonly GraphQLError[] {
  let document: DocumentNode;
  try {
    document = parse(query);
  } catch (error) {
    if (!(error instanceof GraphQLError)) throw error;
    return [new GraphQLError(error.message, { source: error.source, positions: error.positions, extensions: { code: 'GRAPHQL_PARSE_FAILED' } })];
  }
  const errors = validate(schema, document, [...specifiedRules, ...rules]);
  if (errors.length) {
    return errors.map((e) => e.extensions.code ? e : new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }));
  }
  return document;
}
