// Instants the system stores, as organizers and cursors give them in RFC 3339 text: from
// 1970-01-01 up to, not including, the year 10000.
const instantMinMs = 0;
const instantMaxMs = Date.UTC(10_000, 0, 1);

// The instant in epoch milliseconds, or null when the text names no real moment in range.
// Date.parse alone rolls 2024-02-30 over to March 1st, so the calendar date is checked too.
export function parseInstant(text: string): number | null {
  const date = /^(\d{4})-(\d{2})-(\d{2})T/.exec(text);
  if (!date) return null;
  const [year, month, day] = [Number(date[1]), Number(date[2]), Number(date[3])];
  if (new Date(Date.UTC(year, month - 1, day)).getUTCDate() !== day) return null;
  const ms = Date.parse(text);
  return Number.isFinite(ms) && ms >= instantMinMs && ms < instantMaxMs ? ms : null;
}
