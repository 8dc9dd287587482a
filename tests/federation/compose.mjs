#!/usr/bin/env node
// Composes subgraph SDLs with the Guild's open federation composer, the same check a router's
// build step would run, so a schema change that breaks composition fails our tests and not a partner's deploy.
//
// Input (stdin): JSON, either one subgraph `{"name": "...", "sdl": "..."}` or a list of them.
// Output (stdout): `{"ok": true|false, "errors": ["message", ...]}`; exit code 0 when it composes, 1 otherwise
// (unreadable input is reported the same way, so the caller always gets one JSON line to show).

import { composeServices } from "@theguild/federation-composition";
import { parse } from "graphql";

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function finish(ok, errors) {
  process.stdout.write(`${JSON.stringify({ ok, errors })}\n`);
  process.exitCode = ok ? 0 : 1;
}

function servicesFrom(input) {
  const subgraphs = Array.isArray(input) ? input : [input];
  if (subgraphs.length === 0) {
    throw new Error("no subgraphs given");
  }
  return subgraphs.map((subgraph, index) => {
    if (typeof subgraph?.name !== "string" || typeof subgraph?.sdl !== "string") {
      throw new Error(`subgraph ${index} needs a string "name" and a string "sdl"`);
    }
    // A syntax error is reported with the subgraph's name so the developer knows which SDL to look at.
    try {
      return { name: subgraph.name, typeDefs: parse(subgraph.sdl) };
    } catch (error) {
      throw new Error(`subgraph ${subgraph.name}: ${error.message}`);
    }
  });
}

async function main() {
  let services;
  try {
    services = servicesFrom(JSON.parse(await readStdin()));
  } catch (error) {
    finish(false, [`invalid input: ${error.message}`]);
    return;
  }
  const result = composeServices(services);
  const errors = (result.errors ?? []).map((error) => error.message);
  finish(errors.length === 0, errors);
}

await main();
