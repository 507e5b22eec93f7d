/** Metadata keys as the depend phase produces them. */
export const METADATA_KEYS = [
  "DEPEND", "RDEPEND", "SLOT", "SRC_URI", "RESTRICT", "HOMEPAGE", "LICENSE", "DESCRIPTION", "KEYWORDS", "INHERITED",
  "IUSE", "REQUIRED_USE", "PDEPEND", "BDEPEND", "IDEPEND", "EAPI", "PROPERTIES", "DEFINED_PHASES", "_PY_COMPAT",
] as const;
export type MetadataKey = (typeof METADATA_KEYS)[number];

/** What the cache holds for one ebuild. */
export interface PackageMetadata {
  readonly repo: string;
  readonly cpv: string;
  readonly category: string;
  readonly package: string;
  readonly version: string;
  /** md5 of the ebuild file. */
  readonly md5: string;
  /** Eclasses used, in INHERITED order, with the md5 of the file chosen. */
  readonly eclasses: readonly (readonly [string, string])[];
  readonly values: Readonly<Record<MetadataKey, string>>;
  /** Sourced by ouzo's depend phase, or imported from the repository's shipped md5-cache. */
  readonly origin?: "sourced" | "md5-cache";
  /**
   * Set when the last regeneration of this ebuild failed (the message): the values are then those
   * of the last good one, kept rather than lost, and the next regen tries again.
   */
  readonly failure?: string;
}

export function slotOf(m: PackageMetadata): { slot: string; subslot: string | undefined } {
  const s = m.values.SLOT || "0";
  const i = s.indexOf("/");
  return i < 0 ? { slot: s, subslot: undefined } : { slot: s.slice(0, i), subslot: s.slice(i + 1) };
}
