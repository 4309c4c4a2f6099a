/**
 * Checks for docs/openapi.yaml: the document's structure (version, references, responses, schemas that
 * compile), and real answers against it (the status is documented for the operation, the required headers
 * are there, the body validates against the schema of its status and content type).
 *
 * Schemas are validated with Ajv's JSON Schema 2020-12 dialect, the one OpenAPI 3.1 uses. The whole
 * document is added to Ajv under one id, so a `$ref` in a schema resolves as it does for any OpenAPI tool.
 *
 * Two extensions of ours: a last path parameter with `x-multi-segment: true` takes the rest of the path,
 * slashes included (`/apps/{app}/{path}`), which OpenAPI has no way to say; and an operation's
 * `x-guest-answer-header` names the header that marks a guest's own answer, checked against its `default`
 * response whatever its status (a guest may answer any status the node also answers).
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { parse } from 'yaml';

// Loosely typed on purpose: the document is data under test, checked by `structuralProblems`.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type OpenApiDocument = Record<string, any>;

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** The extension naming what the node answers for a path or method the document has no operation for. */
export const UNROUTED = 'x-unrouted-responses';

/** The operation extension naming the header that marks a guest's own answer (checked against `default`). */
export const GUEST_ANSWER_HEADER = 'x-guest-answer-header';

const DOC_ID = 'openapi.json';

export function loadOpenApi(file: string): OpenApiDocument {
  return parse(readFileSync(file, 'utf8'), { uniqueKeys: true }) as OpenApiDocument;
}

/** A real answer, as the checks need it. */
export interface Answer {
  status: number;
  /** Header lookup, case-insensitive (a fetch `Headers`, or node:http's lower-cased headers). */
  headers: Headers | Record<string, string | string[] | undefined>;
  body: string;
}

/** A server-sent event: its type and its `data`. */
export interface StreamEvent {
  event: string;
  data: string;
}

export interface OperationMatch {
  template: string;
  method: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  operation: Record<string, any>;
}

/** An object reached from the document, and the JSON pointer of where it actually is (after `$ref`s). */
interface Located {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  value: any;
  pointer: string;
}

export function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** The value at a local JSON pointer (`#/a/b`), or undefined. */
export function resolvePointer(doc: OpenApiDocument, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  let node: unknown = doc;
  for (const raw of ref.slice(1).split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !(key in node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** Follows `$ref`s of non-schema objects (responses, parameters, headers) to the object itself. */
function deref(doc: OpenApiDocument, located: Located): Located {
  let { value, pointer } = located;
  for (let hops = 0; value && typeof value === 'object' && typeof value.$ref === 'string'; hops++) {
    if (hops > 20) throw new Error(`$ref loop at ${pointer}`);
    pointer = value.$ref as string;
    value = resolvePointer(doc, pointer);
  }
  return { value, pointer };
}

function newAjv(): Ajv2020 {
  const ajv = new Ajv2020({ strict: false, allowUnionTypes: true, allErrors: true });
  ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$/i);
  return ajv;
}

/** Every schema of the document, by JSON pointer: components, parameters, headers, bodies and our extensions. */
export function schemaPointers(doc: OpenApiDocument): string[] {
  const out: string[] = [];
  const walk = (node: unknown, pointer: string, parentKey: string): void => {
    if (node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      node.forEach((child, i) => walk(child, `${pointer}/${i}`, parentKey));
      return;
    }
    for (const [key, child] of Object.entries(node)) {
      const p = `${pointer}/${escapePointer(key)}`;
      if (key === 'schema' || key === 'x-item-schema' || (parentKey === 'schemas' && pointer === '#/components/schemas') || parentKey === 'x-events') {
        out.push(p);
      } else {
        walk(child, p, key);
      }
    }
  };
  walk(doc, '#', '');
  return out;
}

/** What is wrong with the document as OpenAPI 3.1 (empty: nothing found). */
export function structuralProblems(doc: OpenApiDocument): string[] {
  const problems: string[] = [];
  if (typeof doc.openapi !== 'string' || !/^3\.1\.\d+$/.test(doc.openapi)) problems.push(`openapi is ${JSON.stringify(doc.openapi)}, not 3.1.x`);
  if (typeof doc.info?.title !== 'string' || typeof doc.info?.version !== 'string') problems.push('info needs a title and a version');
  if (!doc.paths || typeof doc.paths !== 'object') problems.push('no paths');

  // Every $ref resolves, and only to this document.
  const visit = (node: unknown, pointer: string): void => {
    if (node === null || typeof node !== 'object') return;
    for (const [key, child] of Object.entries(node)) {
      if (key === '$ref') {
        if (typeof child !== 'string' || !child.startsWith('#/')) problems.push(`${pointer}: $ref ${JSON.stringify(child)} is not a local reference`);
        else if (resolvePointer(doc, child) === undefined) problems.push(`${pointer}: $ref ${child} resolves to nothing`);
      } else {
        visit(child, `${pointer}/${escapePointer(key)}`);
      }
    }
  };
  visit(doc, '#');

  const schemes = Object.keys(doc.components?.securitySchemes ?? {});
  const operationIds = new Set<string>();
  for (const [template, item] of Object.entries((doc.paths ?? {}) as OpenApiDocument)) {
    if (!template.startsWith('/')) problems.push(`path ${template} does not start with /`);
    const params = [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
    for (const method of HTTP_METHODS) {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const op = (item as Record<string, any>)[method];
      if (!op) continue;
      const where = `${method.toUpperCase()} ${template}`;
      if (!op.operationId) problems.push(`${where}: no operationId`);
      else if (operationIds.has(op.operationId)) problems.push(`${where}: operationId ${op.operationId} is used twice`);
      else operationIds.add(op.operationId);
      const responses = Object.keys(op.responses ?? {});
      if (responses.length === 0) problems.push(`${where}: no responses`);
      for (const status of responses) if (!/^([1-5](\d\d|XX)|default)$/.test(status)) problems.push(`${where}: response key ${status}`);
      const declared = [...(item.parameters ?? []), ...(op.parameters ?? [])]
        .map((p: unknown) => deref(doc, { value: p, pointer: '' }).value)
        .filter((p: { in?: string }) => p?.in === 'path')
        .map((p: { name: string; required?: boolean }) => {
          if (p.required !== true) problems.push(`${where}: path parameter ${p.name} must be required`);
          return p.name;
        });
      for (const name of params) if (!declared.includes(name)) problems.push(`${where}: path parameter {${name}} is not declared`);
      for (const requirement of op.security ?? doc.security ?? []) {
        for (const scheme of Object.keys(requirement)) if (!schemes.includes(scheme)) problems.push(`${where}: unknown security scheme ${scheme}`);
      }
    }
  }

  // Every schema is a valid JSON Schema 2020-12 and compiles with its references.
  const ajv = newAjv();
  try {
    ajv.addSchema(doc, DOC_ID, undefined, false);
  } catch (error) {
    problems.push(`Ajv refuses the document: ${String(error)}`);
    return problems;
  }
  for (const pointer of schemaPointers(doc)) {
    const schema = resolvePointer(doc, pointer);
    if (typeof schema !== 'boolean' && !ajv.validateSchema(schema as object)) {
      problems.push(`${pointer}: not a JSON Schema: ${ajv.errorsText(ajv.errors)}`);
      continue;
    }
    let validate: ValidateFunction;
    try {
      validate = ajv.compile({ $ref: `${DOC_ID}${pointer}` });
    } catch (error) {
      problems.push(`${pointer}: does not compile: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    // The examples shown to readers validate against the schema they illustrate.
    const examples: Array<[string, unknown]> = [];
    if (schema && typeof schema === 'object' && 'example' in schema) examples.push([`${pointer}/example`, (schema as { example: unknown }).example]);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const media = resolvePointer(doc, pointer.replace(/\/schema$/, '')) as Record<string, any> | undefined;
    if (pointer.endsWith('/schema') && media?.examples) {
      for (const [name, ex] of Object.entries(media.examples)) examples.push([`${pointer}/../examples/${name}`, (ex as { value?: unknown }).value]);
    }
    for (const [where, value] of examples) if (!validate(value)) problems.push(`${where}: does not validate: ${formatErrors(validate.errors)}`);
  }
  return problems;
}

function header(headers: Answer['headers'], name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === lower) return Array.isArray(v) ? v.join(', ') : v;
  return undefined;
}

function formatErrors(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`).join('; ');
}

/** Checks real answers against the document. */
export class OpenApiChecker {
  private readonly ajv = newAjv();
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly templates: Array<{ template: string; parts: string[]; rest: boolean }>;

  constructor(readonly doc: OpenApiDocument) {
    this.ajv.addSchema(doc, DOC_ID, undefined, false);
    // Literal segments win over parameters, as in the node's router.
    const rank = (parts: string[]): number[] => parts.map((p) => (/^\{\w+\}$/.test(p) ? 1 : 0));
    this.templates = Object.keys(doc.paths ?? {})
      .map((template) => ({ template, parts: template.split('/'), rest: this.endsInRest(template) }))
      .sort((a, b) => {
        const ra = rank(a.parts);
        const rb = rank(b.parts);
        for (let i = 0; i < Math.min(ra.length, rb.length); i++) if (ra[i] !== rb[i]) return ra[i]! - rb[i]!;
        if (a.rest !== b.rest) return a.rest ? 1 : -1;
        return rb.length - ra.length;
      });
  }

  /** Whether the template's last segment is a path parameter marked `x-multi-segment`. */
  private endsInRest(template: string): boolean {
    const last = /\{(\w+)\}$/.exec(template)?.[1];
    if (last === undefined) return false;
    const item = this.doc.paths[template] as Record<string, unknown>;
    const declared = [item.parameters, ...HTTP_METHODS.map((m) => (item[m] as { parameters?: unknown } | undefined)?.parameters)]
      .flatMap((list) => (Array.isArray(list) ? list : []))
      .map((p: unknown) => deref(this.doc, { value: p, pointer: '' }).value as { name?: string; in?: string; 'x-multi-segment'?: boolean });
    return declared.some((p) => p?.in === 'path' && p.name === last && p['x-multi-segment'] === true);
  }

  /** The documented path template a request path (with or without its query) falls under. */
  template(path: string): string | undefined {
    const parts = path.split('?')[0]!.split('/');
    const found = this.templates.find((t) => {
      if (t.rest ? parts.length < t.parts.length : t.parts.length !== parts.length) return false;
      const segments = t.rest ? [...parts.slice(0, t.parts.length - 1), parts.slice(t.parts.length - 1).join('/')] : parts;
      return t.parts.every((p, i) => (/^\{\w+\}$/.test(p) ? segments[i] !== '' : p === segments[i]));
    });
    return found?.template;
  }

  /** The documented operation for a request, or undefined (the node answers it per `x-unrouted-responses`). */
  operation(method: string, path: string): OperationMatch | undefined {
    const template = this.template(path);
    if (template === undefined) return undefined;
    const m = method.toLowerCase();
    const operation = this.doc.paths[template][m];
    return operation ? { template, method: m, operation } : undefined;
  }

  /** Validates `value` against the schema at a JSON pointer of the document: the errors, or empty. */
  validate(pointer: string, value: unknown): string[] {
    let validate = this.validators.get(pointer);
    if (!validate) {
      validate = this.ajv.compile({ $ref: `${DOC_ID}${pointer}` });
      this.validators.set(pointer, validate);
    }
    return validate(value) ? [] : [`${pointer}: ${formatErrors(validate.errors)}`];
  }

  /**
   * The documented response of an answer (after `$ref`s), or why there is none. `guest`: the answer carries
   * the operation's `x-guest-answer-header`, so its `default` response documents it.
   */
  response(method: string, path: string, status: number, guest = false): Located | string {
    const match = this.operation(method, path);
    const base = match ? `#/paths/${escapePointer(match.template)}/${match.method}/responses` : `#/${UNROUTED}`;
    const responses = (resolvePointer(this.doc, base) ?? {}) as Record<string, unknown>;
    const key = (guest ? ['default'] : [String(status), `${String(status)[0]}XX`, 'default']).find((k) => k in responses);
    const where = match ? `${method.toUpperCase()} ${match.template}` : `${method.toUpperCase()} ${path} (unrouted)`;
    if (key === undefined) return `${where}: status ${status} is not documented (documented: ${Object.keys(responses).join(', ')})`;
    return deref(this.doc, { value: responses[key], pointer: `${base}/${key}` });
  }

  /** What is wrong with a real answer to `method path` (empty: it is as documented). */
  check(method: string, path: string, answer: Answer): string[] {
    const marker = this.operation(method, path)?.operation[GUEST_ANSWER_HEADER] as string | undefined;
    const response = this.response(method, path, answer.status, marker !== undefined && header(answer.headers, marker) !== undefined);
    if (typeof response === 'string') return [response];
    const where = `${method.toUpperCase()} ${path} -> ${answer.status}`;
    const problems: string[] = [];
    for (const [name, raw] of Object.entries(response.value.headers ?? {})) {
      const h = deref(this.doc, { value: raw, pointer: `${response.pointer}/headers/${escapePointer(name)}` });
      const value = header(answer.headers, name);
      if (value === undefined) {
        if (h.value.required) problems.push(`${where}: header ${name} is required but missing`);
        continue;
      }
      if (h.value.schema) {
        const typed = h.value.schema.type === 'integer' && /^\d+$/.test(value) ? Number(value) : value;
        problems.push(...this.validate(`${h.pointer}/schema`, typed).map((e) => `${where}: header ${name}: ${e}`));
      }
    }
    const content = response.value.content as Record<string, unknown> | undefined;
    if (!content) {
      if (answer.body !== '') problems.push(`${where}: a body is sent but none is documented`);
      return problems;
    }
    const media = (header(answer.headers, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    // The most specific media type or range that covers it (OpenAPI: `text/*`, `*/*`).
    const documented = [media, `${media.split('/')[0]}/*`, '*/*'].find((m) => media !== '' && m in content);
    if (documented === undefined) return [...problems, `${where}: content type ${JSON.stringify(media)} is not documented (documented: ${Object.keys(content).join(', ')})`];
    const pointer = `${response.pointer}/content/${escapePointer(documented)}/schema`;
    if (resolvePointer(this.doc, pointer) === undefined) return problems;
    let body: unknown = answer.body;
    if (media === 'application/json' || media.endsWith('+json')) {
      try {
        body = JSON.parse(answer.body);
      } catch {
        return [...problems, `${where}: the body is not JSON: ${answer.body.slice(0, 200)}`];
      }
    }
    problems.push(...this.validate(pointer, body).map((e) => `${where}: body: ${e}`));
    return problems;
  }

  /** What is wrong with the events of a stream answered `status` (each `data` checked against `x-events`). */
  checkEvents(method: string, path: string, status: number, media: string, events: StreamEvent[]): string[] {
    const response = this.response(method, path, status);
    if (typeof response === 'string') return [response];
    const base = `${response.pointer}/content/${escapePointer(media)}/x-events`;
    const problems: string[] = [];
    for (const e of events) {
      const pointer = `${base}/${escapePointer(e.event)}`;
      if (resolvePointer(this.doc, pointer) === undefined) {
        problems.push(`event ${JSON.stringify(e.event)} is not documented`);
        continue;
      }
      let data: unknown;
      try {
        data = JSON.parse(e.data);
      } catch {
        problems.push(`event ${e.event}: data is not JSON: ${e.data.slice(0, 200)}`);
        continue;
      }
      problems.push(...this.validate(pointer, data).map((err) => `event ${e.event}: ${err}`));
    }
    return problems;
  }
}

/** The complete events in a `text/event-stream` text (comments and `retry:` lines are not events). */
export function parseEvents(text: string): StreamEvent[] {
  const events: StreamEvent[] = [];
  for (const block of text.split(/\r?\n\r?\n/).slice(0, -1)) {
    let event = 'message';
    const data: string[] = [];
    let any = false;
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(':') || line === '') continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') {
        data.push(value);
        any = true;
      }
    }
    if (any) events.push({ event, data: data.join('\n') });
  }
  return events;
}
