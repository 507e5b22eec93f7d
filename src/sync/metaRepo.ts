import { OuzoError } from "../core/errors.js";
import type { EgoConf } from "../config/egoConf.js";

/** What a meta-repo commit says about its release (meta-repo.md §2). */
export interface Release {
  readonly kitOrder: readonly string[];
  readonly kitSettings: ReadonlyMap<string, { stability: ReadonlyMap<string, string>; type: string }>;
  /** kit → branches, first = default */
  readonly releaseDefs: ReadonlyMap<string, readonly string[]>;
  /** kit → branch → pin */
  readonly pins: ReadonlyMap<string, ReadonlyMap<string, { sha1: string; depth?: number }>>;
  readonly version: number;
  readonly defaultRelease: string | undefined;
}

/** A kit selected for sync: its branch, stability rating and pin. */
export interface KitChoice {
  readonly kit: string;
  readonly branch: string;
  readonly stability: string;
  readonly sha1: string;
  readonly depth: number | undefined;
}

const SHA1_RE = /^[0-9a-f]{40}$/;

function obj(v: unknown, what: string, file: string): Record<string, unknown> {
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new OuzoError("BAD_META_REPO", `${what} is not an object`, { file });
  return v as Record<string, unknown>;
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new OuzoError("BAD_META_REPO", `invalid JSON: ${(e as Error).message}`, { file });
  }
}

/** Parse the meta-repo's metadata files (given as text, read from a git commit by the caller). */
export function parseRelease(files: { kitInfo: string; kitSha1: string; version?: string }, release: string | undefined): Release {
  const versionDoc = files.version ? obj(parseJson(files.version, "metadata/version.json"), "version.json", "metadata/version.json") : {};
  const info = obj(parseJson(files.kitInfo, "metadata/kit-info.json"), "kit-info.json", "metadata/kit-info.json");
  const releaseInfo = (info.release_info ?? versionDoc) as Record<string, unknown>;
  const version = Number(releaseInfo?.version ?? versionDoc.version ?? 1);
  const F = "metadata/kit-info.json";

  let kitOrder: string[];
  const ko = info.kit_order;
  if (Array.isArray(ko)) kitOrder = ko.map(String);
  else if (ko && typeof ko === "object") {
    const key = release ? `${release}-release` : Object.keys(ko)[0]!;
    kitOrder = ((ko as Record<string, unknown>)[key] as string[] | undefined) ?? Object.values(ko)[0] as string[];
  } else throw new OuzoError("BAD_META_REPO", "kit_order is missing", { file: F });

  const kitSettings = new Map<string, { stability: Map<string, string>; type: string }>();
  for (const [kit, v] of Object.entries(obj(info.kit_settings ?? {}, "kit_settings", F))) {
    const st = obj((v as Record<string, unknown>).stability ?? {}, `kit_settings.${kit}.stability`, F);
    kitSettings.set(kit, { stability: new Map(Object.entries(st).map(([b, r]) => [b, String(r)])), type: String((v as Record<string, unknown>).type ?? "auto") });
  }

  const releaseDefs = new Map<string, string[]>();
  let defs = obj(info.release_defs ?? {}, "release_defs", F);
  if (version < 10 && release && defs[release]) defs = obj(defs[release], `release_defs.${release}`, F);
  for (const [kit, v] of Object.entries(defs)) if (Array.isArray(v)) releaseDefs.set(kit, v.map(String));

  const pins = new Map<string, Map<string, { sha1: string; depth?: number }>>();
  for (const [kit, branches] of Object.entries(obj(parseJson(files.kitSha1, "metadata/kit-sha1.json"), "kit-sha1.json", "metadata/kit-sha1.json"))) {
    const m = new Map<string, { sha1: string; depth?: number }>();
    for (const [branch, pin] of Object.entries(obj(branches, `kit-sha1.${kit}`, "metadata/kit-sha1.json"))) {
      if (typeof pin === "string") m.set(branch, { sha1: pin });
      else {
        const p = obj(pin, `kit-sha1.${kit}.${branch}`, "metadata/kit-sha1.json");
        m.set(branch, { sha1: String(p.sha1 ?? ""), depth: p.depth === undefined ? undefined : Number(p.depth) });
      }
    }
    pins.set(kit, m);
  }
  return { kitOrder, kitSettings, releaseDefs, pins, version, defaultRelease: typeof releaseInfo?.default === "string" ? releaseInfo.default : undefined };
}

export interface ChooseResult {
  readonly kits: KitChoice[];
  readonly skipped: string[];
  readonly warnings: string[];
}

/** Branch choice per kit (meta-repo.md §4), with every error found reported at once. */
export function chooseKits(rel: Release, ego: Pick<EgoConf, "kitOverrides">): ChooseResult {
  const kits: KitChoice[] = [];
  const skipped: string[] = [];
  const warnings: string[] = [];
  const errors: string[] = [];
  for (const kit of rel.kitOrder) {
    const override = ego.kitOverrides.get(kit);
    if (override === "skip") {
      skipped.push(kit);
      continue;
    }
    const settings = rel.kitSettings.get(kit);
    const branch = override ?? rel.releaseDefs.get(kit)?.[0] ?? (settings as unknown as { default?: string })?.default;
    if (!branch) {
      errors.push(`${kit}: the release names no branch for it`);
      continue;
    }
    const stability = settings?.stability.get(branch);
    if (stability === undefined) {
      errors.push(`${kit}: branch '${branch}' is not allowed by kit_settings (allowed: ${[...(settings?.stability.keys() ?? [])].join(", ") || "none"})`);
      continue;
    }
    if (stability === "deprecated") warnings.push(`${kit}: branch '${branch}' is deprecated`);
    const pin = rel.pins.get(kit)?.get(branch);
    if (!pin) {
      errors.push(`${kit}: kit-sha1.json has no pin for branch '${branch}'`);
      continue;
    }
    if (!SHA1_RE.test(pin.sha1)) {
      errors.push(`${kit}: pin '${pin.sha1}' of branch '${branch}' is not a 40-digit sha1`);
      continue;
    }
    kits.push({ kit, branch, stability, sha1: pin.sha1, depth: pin.depth });
  }
  for (const k of ego.kitOverrides.keys()) if (!rel.kitOrder.includes(k)) warnings.push(`[kits] names '${k}', which is not a kit of this release`);
  if (errors.length) throw new OuzoError("BAD_RELEASE", errors.length === 1 ? errors[0]! : `${errors.length} problems: ${errors.join("; ")}`);
  return { kits, skipped, warnings };
}
