// IUSE_EFFECTIVE (build spec §2.3, PMS 11.1.1): the flags an ebuild may query with `use`.
import { eapiFeatures } from "../pms/eapi.js";
import { tokens } from "./shellVars.js";

/**
 * IUSE without its defaults, IUSE_IMPLICIT, the values of USE_EXPAND_UNPREFIXED ∩
 * USE_EXPAND_IMPLICIT variables (ARCH) and the prefixed values of USE_EXPAND ∩
 * USE_EXPAND_IMPLICIT ones (elibc_glibc, kernel_linux). Before EAPI 5 Portage also counts every
 * USE_EXPAND flag and every arch; `allUse` (the enabled flags) supplies those.
 */
export function iuseEffective(vars: ReadonlyMap<string, string>, eapi: string, iuse: readonly string[], allUse: Iterable<string> = []): string[] {
  const out = new Set(iuse.map((f) => f.replace(/^[+-]/, "")));
  for (const f of tokens(vars.get("IUSE_IMPLICIT"))) out.add(f);
  const implicit = new Set(tokens(vars.get("USE_EXPAND_IMPLICIT")));
  for (const v of tokens(vars.get("USE_EXPAND_UNPREFIXED"))) {
    if (implicit.has(v)) for (const x of tokens(vars.get(`USE_EXPAND_VALUES_${v}`))) out.add(x);
  }
  const expand = tokens(vars.get("USE_EXPAND"));
  for (const v of expand) {
    if (implicit.has(v)) for (const x of tokens(vars.get(`USE_EXPAND_VALUES_${v}`))) out.add(`${v.toLowerCase()}_${x}`);
  }
  if (!eapiFeatures(eapi)?.iuseEffectiveStrict) {
    const prefixes = expand.map((v) => `${v.toLowerCase()}_`);
    for (const f of allUse) if (prefixes.some((p) => f.startsWith(p))) out.add(f);
    const arch = vars.get("ARCH");
    if (arch) out.add(arch);
  }
  return [...out].sort();
}
