/**
 * At most `max` UTF-16 units of well-formed text, ending in "…" when cut: lone surrogates become
 * U+FFFD and a cut never splits a surrogate pair. The protocol refuses lone surrogates (they have
 * no canonical JSON form), so every text the agent puts into evidence passes through here.
 */
export function clip(text: string, max: number): string {
  const whole = text.toWellFormed();
  if (whole.length <= max) return whole;
  const high = whole.charCodeAt(max - 2);
  return `${whole.slice(0, high >= 0xd800 && high <= 0xdbff ? max - 2 : max - 1)}…`;
}
