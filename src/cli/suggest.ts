/** Edit distance (insertions, deletions, substitutions) between two short strings. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * The names closest to `wanted` among `names`: the same name in another case first, then names
 * within a few edits (a third of the length, at least 1, at most 3), nearest first; at most `most`.
 */
export function closest(wanted: string, names: Iterable<string>, most = 3): string[] {
  const w = wanted.toLowerCase();
  const limit = Math.min(3, Math.max(1, Math.floor(w.length / 3)));
  const scored: [string, number][] = [];
  for (const n of names) {
    const l = n.toLowerCase();
    if (Math.abs(l.length - w.length) > limit) continue;
    const d = l === w ? 0 : editDistance(l, w);
    if (d <= limit) scored.push([n, d]);
  }
  return [...new Set(scored.sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1)).map(([n]) => n))].slice(0, most);
}
