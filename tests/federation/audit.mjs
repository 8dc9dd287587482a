#!/usr/bin/env node
// Runs graphql-http's GraphQL-over-HTTP audit (`auditServer`, the spec's own conformance suite) against a
// running hub, as the viewer of a bearer token, so tests/e2e/test_graphql_over_http.py can require every
// check to be `ok`.
//
// Usage: node audit.mjs URL  (the token, if any, in the LEERPOORT_AUDIT_TOKEN environment variable, so it
// never shows in a process list).
// Output (stdout): a JSON list of `{"id", "name", "status", "reason"?, "httpStatus"?}`, one per check;
// exit code 0 when every check is `ok`, 1 otherwise.

import { auditServer } from "graphql-http";

const url = process.argv[2];
const token = process.env.LEERPOORT_AUDIT_TOKEN;

// The audit's requests carry no credentials of their own: add the token to each, keeping its headers.
async function fetchWithToken(input, init = {}) {
  const headers = new Headers(init.headers ?? {});
  if (token) {
    headers.set("authorization", `Bearer ${token}`);
  }
  return fetch(input, { ...init, headers });
}

const results = await auditServer({ url, fetchFn: fetchWithToken });
const report = results.map((result) =>
  result.status === "ok"
    ? { id: result.id, name: result.name, status: result.status }
    : {
        id: result.id,
        name: result.name,
        status: result.status,
        reason: result.reason,
        httpStatus: result.response?.status,
      },
);
process.stdout.write(`${JSON.stringify(report)}\n`);
process.exitCode = report.every((result) => result.status === "ok") ? 0 : 1;
