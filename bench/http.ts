/** One GraphQL POST over a given (keep-alive) agent on loopback; rejects on network errors (refused, reset, timeout). */
import http from 'node:http';

export interface PostTarget {
  port: number;
  agent: http.Agent;
  token: string | null;
}

/** A GraphQL response as the benchmark and the process tests read it: root fields by name, errors as sent. */
export interface GraphQLResponse<TData = Record<string, Record<string, unknown> | null>> {
  data?: TData | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

/** `TData`: the shape the caller expects under `data` (not checked; the caller's own assertions do that). */
export function postGraphQL<TData = Record<string, Record<string, unknown> | null>>(target: PostTarget, body: unknown, timeoutMs = 30_000): Promise<{ status: number; json: GraphQLResponse<TData> }> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port: target.port, path: '/graphql', method: 'POST', agent: target.agent, timeout: timeoutMs,
      headers: { 'content-type': 'application/json', 'content-length': payload.length, ...(target.token ? { authorization: `Bearer ${target.token}` } : {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as GraphQLResponse<TData> });
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}
