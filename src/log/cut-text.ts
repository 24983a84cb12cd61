// Messages built from what a user wrote (an annotation, a list of hundreds of addresses) can be any
// length; an Event or log line that long floods `kubectl describe` and the log store alike. Such a
// text is cut to about 1 kB and says how much was left out, so a reader knows it is not whole.

/** The most UTF-8 bytes a cut text takes, its note of what was cut included. */
export const TEXT_LIMIT_BYTES = 1024;

const count = new Intl.NumberFormat("en-US");

// More than one character is always cut: the note is longer than any four characters.
function cutNote(more: number): string {
  return ` … (${count.format(more)} more characters)`;
}

/**
 * The text itself if it fits in limitBytes of UTF-8, else its longest start that fits with the note
 * of how many characters (code points) were cut. Whole code points are kept: a surrogate pair is
 * never split.
 */
export function cutText(text: string, limitBytes: number = TEXT_LIMIT_BYTES): string {
  if (Buffer.byteLength(text) <= limitBytes) return text;
  const points = Array.from(text);
  // The note is never longer than with every character cut, so its room is reserved at that size.
  const room = limitBytes - Buffer.byteLength(cutNote(points.length));
  let used = 0;
  let kept = 0;
  for (const point of points) {
    const size = Buffer.byteLength(point);
    if (used + size > room) break;
    used += size;
    kept += 1;
  }
  return `${points.slice(0, kept).join("")}${cutNote(points.length - kept)}`;
}
