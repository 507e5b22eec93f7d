// NODE_EXTRA_CA_CERTS, when bin/ouzo kept node from loading them at start (see there): the
// certificate list an HTTPS agent should trust — node's own roots plus those certificates, as
// node would have — or undefined when node loaded them itself or there are none. Read once.
import * as fs from "node:fs";
import { createRequire } from "node:module";

// node:tls (~5 ms to load) only when there are certificates to add: a download over plain HTTP
// does without it
const require = createRequire(import.meta.url);
const rootCertificates = (): readonly string[] => (require("node:tls") as typeof import("node:tls")).rootCertificates;

let cached: { ca: string[] | undefined } | undefined;

export function deferredExtraCa(): string[] | undefined {
  if (cached) return cached.ca;
  const file = (globalThis as Record<symbol, unknown>)[Symbol.for("ouzo.deferredExtraCaCerts")];
  let ca: string[] | undefined;
  if (typeof file === "string" && file) {
    try {
      ca = [...rootCertificates(), fs.readFileSync(file, "utf8")];
    } catch (e) {
      // node's own words for this case: it goes on without them
      process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${(e as Error).message}`);
      ca = [...rootCertificates()];
    }
  }
  cached = { ca };
  return ca;
}
