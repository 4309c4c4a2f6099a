/**
 * Routes as data: each route is `{ method, template, scopes, handle }`, and the template that matched is
 * what metrics and spans are labelled with, so a label can never be a raw (high-cardinality) path.
 *
 * A template is a path whose segments are literals, `{name}` (one segment, possibly empty, no `/`), or a
 * final `*` (the rest of the path, anything). Literals win over parameters, parameters over `*`; among
 * equals the route listed first wins.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Scope } from '../auth/index.js';
import type { PrincipalKind } from '../runtime/index.js';

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** The path without the query string. */
  path: string;
  /** The raw query string, without `?`. */
  query: string;
  /** Who is asking (`anonymous` on routes without scopes). */
  principal: Principal;
  /** The request's telemetry scope (RequestObserver.begin), if observed; opaque here. */
  scope: unknown;
}

export interface Principal {
  kind: PrincipalKind;
  subject: string;
  /** The token's id (`jti`), when it has one: what tells two gateway tokens of the same subject apart. */
  tokenId?: string;
}

export interface Route {
  /** `GET`, `POST`, ...; a HEAD request is answered by the GET route. */
  method: string;
  /** e.g. `/v1/regions/{region}/series`: matched against the path, and the label in telemetry. */
  template: string;
  /** Scopes whose tokens may call it; empty: no authentication. */
  scopes: readonly Scope[];
  /**
   * Accept the token as `?access_token=` too, for browsers' EventSource (it cannot set headers). Only for
   * what needs it: tokens in URLs end up in proxy logs. @default false
   */
  queryToken?: boolean;
  handle: (ctx: RequestContext) => Promise<void> | void;
}

/** What a path matched: the routes of its template (one per method), or nothing. */
export interface RouteMatch {
  template: string;
  /** Every route of that template, for the method lookup and the `Allow` header of a 405. */
  routes: Route[];
}

type Segment = { kind: 'literal'; text: string } | { kind: 'param' } | { kind: 'rest' };

interface CompiledTemplate {
  template: string;
  segments: Segment[];
  /** Sort key: more specific templates are tried first. */
  rank: number[];
  routes: Route[];
}

export class Router {
  private readonly templates: CompiledTemplate[] = [];

  constructor(routes: Iterable<Route> = []) {
    for (const route of routes) this.add(route);
  }

  add(route: Route): void {
    let entry = this.templates.find((t) => t.template === route.template);
    if (!entry) {
      const segments = parseTemplate(route.template);
      entry = { template: route.template, segments, rank: segments.map((s) => (s.kind === 'literal' ? 0 : s.kind === 'param' ? 1 : 2)), routes: [] };
      this.templates.push(entry);
      this.templates.sort((a, b) => compareRank(a.rank, b.rank));
    }
    if (entry.routes.some((r) => r.method === route.method)) throw new Error(`two routes for ${route.method} ${route.template}`);
    entry.routes.push(route);
  }

  match(path: string): RouteMatch | undefined {
    const parts = path.split('/');
    for (const t of this.templates) {
      if (matches(t.segments, parts)) return t;
    }
    return undefined;
  }
}

function parseTemplate(template: string): Segment[] {
  if (!template.startsWith('/')) throw new Error(`a route template starts with "/": ${template}`);
  const parts = template.split('/');
  return parts.map((part, i) => {
    if (part === '*') {
      if (i !== parts.length - 1) throw new Error(`"*" must be the last segment of a route template: ${template}`);
      return { kind: 'rest' };
    }
    if (/^\{\w+\}$/.test(part)) return { kind: 'param' };
    return { kind: 'literal', text: part };
  });
}

function matches(segments: readonly Segment[], parts: readonly string[]): boolean {
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if (s.kind === 'rest') return i < parts.length;
    const part = parts[i];
    if (part === undefined) return false;
    if (s.kind === 'literal' && s.text !== part) return false;
  }
  return segments.length === parts.length;
}

function compareRank(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  // A longer template is more specific than its own prefix followed by `*`.
  return b.length - a.length;
}
