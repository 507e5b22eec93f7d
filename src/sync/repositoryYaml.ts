import YAML from "yaml";
import { OuzoError } from "../core/errors.js";

/** The file documents of repository.yaml's repo_files. */
export interface RepoFile {
  readonly filename: string;
  readonly compressiontype: string;
  readonly sha256: string | undefined;
}

/** repository.yaml as served (anise.md §3). */
export interface RepositoryYaml {
  readonly name: string;
  readonly revision: number;
  readonly lastUpdate: string;
  readonly files: ReadonlyMap<string, RepoFile>;
  readonly text: string;
}

/** Parse and validate repository.yaml: treev2, or legacy tree + meta, must be present. */
export function parseRepositoryYaml(text: string, where: string): RepositoryYaml {
  let doc: Record<string, unknown>;
  try {
    doc = (YAML.parse(text) ?? {}) as Record<string, unknown>;
  } catch (e) {
    throw new OuzoError("BAD_ANISE_REPO", `${where}: repository.yaml is not valid YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  if (typeof doc !== "object" || Array.isArray(doc)) throw new OuzoError("BAD_ANISE_REPO", `${where}: repository.yaml is not a map`);
  const files = new Map<string, RepoFile>();
  for (const [k, v] of Object.entries((doc.repo_files ?? {}) as Record<string, Record<string, unknown>>)) {
    if (!v || typeof v !== "object") continue;
    const sums = (v.checksums ?? {}) as Record<string, unknown>;
    files.set(k, {
      filename: String(v.filename ?? ""),
      compressiontype: String(v.compressiontype ?? ""),
      sha256: typeof sums.sha256 === "string" && sums.sha256 ? sums.sha256.toLowerCase() : undefined,
    });
  }
  if (!files.has("treev2") && !(files.has("tree") && files.has("meta"))) {
    throw new OuzoError("BAD_ANISE_REPO", `${where}: repository.yaml has neither a treev2 file nor legacy tree and meta files`);
  }
  return { name: String(doc.name ?? ""), revision: Number(doc.revision ?? 0), lastUpdate: String(doc.last_update ?? ""), files, text };
}
